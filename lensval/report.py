"""Presentation of comparison results: text tables, and an HTML report with PNG figures
in the paper's form (pixel-intensity histograms, power-spectrum bands, correlation
matrices, Minkowski bands, p-values per column). matplotlib runs with the Agg backend."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from lensval.comparison import ComparisonResult

__all__ = ["format_table", "write_report"]

_NAMES = {
    "pixel": "pixel intensity",
    "power": "power spectrum",
    "power_mean": "mean spectrum",
    "minkowski_V0": "Minkowski V0",
    "minkowski_V1": "Minkowski V1",
    "minkowski_V2": "Minkowski V2",
    "peaks": "peak counts",
    "correlation": "P(l) correlation",
}


def format_table(res: ComparisonResult) -> str:
    """The paper-style table: per family and test, columns, counts, family p, verdict."""
    head = (f"{'family':<18}{'test':<5}{'cols':>5}{'p>0.99':>8}{'p>0.95':>8}{'p>0.8':>8}"
            f"{'min p':>9}{'med p':>8}{'family p':>10}  verdict")
    lines = [
        f"lensval compare: a = {res.n_a} maps, b = {res.n_b} maps"
        + (f", aux = {res.n_aux} maps" if res.n_aux else "")
        + f"; method = {res.method} (B = {res.n_resamples}, seed = {res.seed})",
        head,
        "-" * len(head),
    ]
    for name, f in res.families.items():
        if name == "correlation":
            e = f.extra
            txt = f"rms|dC| = {e['rms_abs_diff']:.4f}, max|dC| = {e['max_abs_diff']:.4f}"
            if "rms_abs_diff_aux" in e:
                txt += (f"; vs aux: rms {e['rms_abs_diff_aux']:.4f}, max "
                        f"{e['max_abs_diff_aux']:.4f}")
            lines.append(f"{_NAMES[name]:<18}{'':<5}{'':>5}  {txt}")
            lines.append(f"{'':<18}{'perm':<5}{1:>5}{'':>8}{'':>8}{'':>8}{f.pvalue['rms'][0]:>9.4f}"
                         f"{'':>8}{f.family_pvalue:>10.4f}  {f.verdict.upper()}")
            continue
        for i, t in enumerate(f.pvalue):
            c = f.counts(t)
            fam = _NAMES.get(name, name) if i == 0 else ""
            tail = f"{f.family_pvalue:>10.4f}  {f.verdict.upper()}" if i == 0 else ""
            lines.append(
                f"{fam:<18}{t.upper():<5}{len(f.labels):>5}{c['frac_p_gt_0.99']:>8.0%}"
                f"{c['frac_p_gt_0.95']:>8.0%}{c['frac_p_gt_0.8']:>8.0%}{c['min_p']:>9.4f}"
                f"{c['median_p']:>8.3f}{tail}")
    lines.append("-" * len(head))
    alpha_f = next(iter(res.families.values())).alpha_family if res.families else res.alpha
    lines.append(
        f"verdict: {'AGREE' if res.agree else 'DISAGREE'} "
        f"(a family disagrees when its adjusted p < alpha/{len(res.families)} = {alpha_f:.4f};"
        f" alpha = {res.alpha:g})")
    return "\n".join(lines)


# --------------------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, dpi: int = 100):
    """Lay out, write and close a figure; return its path."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    _plt().close(fig)
    return path


def _labels(res):
    return ("a (reference)", "b (candidate)")


def _fig_pixel(res, path):
    plt = _plt()
    sa, sb = res.stats_a, res.stats_b
    if "pixel_hist" not in sa:
        return None
    lo, hi = np.asarray(sa["kappa_lo"]), np.asarray(sa["kappa_hi"])
    mid = 0.5 * (lo + hi)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for ds, lab, col in ((sa, _labels(res)[0], "k"), (sb, _labels(res)[1], "C3")):
        counts = np.asarray(ds["pixel_hist"], float).sum(axis=0)
        counts = counts / ds.sizes["sample"] * res.n_a  # per n_a maps, like the paper
        ax.step(mid, np.where(counts > 0, counts, np.nan), where="mid", color=col, label=lab)
    ax.set_yscale("log")
    ax.set_xlabel(r"pixel intensity $\kappa$")
    ax.set_ylabel(f"counts (per {res.n_a} maps)")
    ax.legend()
    ax.set_title("Pixel-intensity distribution")
    return _save(fig, path, dpi=110)


def _band(ax, x, arr, color, label):
    m, s = arr.mean(axis=0), arr.std(axis=0)
    ax.plot(x, m, color=color, label=label)
    ax.fill_between(x, m - s, m + s, color=color, alpha=0.25, lw=0)


def _fig_power(res, path):
    plt = _plt()
    sa, sb = res.stats_a, res.stats_b
    keep = np.asarray(sa["n_modes"]) > 0
    ell = np.asarray(sa["ell"])[keep]
    fac = ell * (ell + 1) / (2 * np.pi)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    pa = np.asarray(sa["power"])[:, keep] * fac
    pb = np.asarray(sb["power"])[:, keep] * fac
    _band(ax, ell, pa, "k", _labels(res)[0])
    _band(ax, ell, pb, "C3", _labels(res)[1])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel(r"$\ell(\ell+1)P(\ell)/2\pi$")
    ax.set_title(r"Power spectrum: mean $\pm 1\sigma$")
    ax.legend()
    ax2.plot(ell, pb.mean(axis=0) / pa.mean(axis=0) - 1, color="C3")
    # standard error of the difference of the two means, relative to a's mean
    se = np.sqrt(pa.var(axis=0) / len(pa) + pb.var(axis=0) / len(pb)) / pa.mean(axis=0)
    ax2.fill_between(ell, -se, se, color="0.8", lw=0)
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_ylabel("b/a - 1")
    ax2.set_xlabel(r"$\ell$")
    return _save(fig, path, dpi=110)


def _fig_power_modes(res, path):
    plt = _plt()
    sa, sb = res.stats_a, res.stats_b
    keep = np.flatnonzero(np.asarray(sa["n_modes"]) > 0)
    picks = keep[np.linspace(0, keep.size - 1, 4).round().astype(int)]
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
    for ax, k in zip(axes, picks, strict=False):
        xa, xb = np.asarray(sa["power"])[:, k], np.asarray(sb["power"])[:, k]
        bins = np.histogram_bin_edges(np.log10(np.concatenate([xa, xb])), 30)
        ax.hist(np.log10(xa), bins, density=True, histtype="step", color="k", label="a")
        ax.hist(np.log10(xb), bins, density=True, histtype="step", color="C3", label="b")
        ax.set_title(rf"$\ell$ = {float(sa['ell'][k]):.0f}")
        ax.set_xlabel(r"$\log_{10} P$")
    axes[0].legend()
    fig.suptitle("Per-mode power distributions")
    return _save(fig, path, dpi=100)


def _fig_corr(res, path):
    plt = _plt()
    sa, sb, sx = res.stats_a, res.stats_b, res.stats_aux
    keep = np.asarray(sa["n_modes"]) > 0
    ca = np.corrcoef(np.asarray(sa["power"])[:, keep], rowvar=False)
    cb = np.corrcoef(np.asarray(sb["power"])[:, keep], rowvar=False)
    diffs = [cb - ca]
    if sx is not None:
        cx = np.corrcoef(np.asarray(sx["power"])[:, keep], rowvar=False)
        diffs.append(cx - ca)
    # one symmetric scale for the difference panels, set by their 99th percentile
    lim = float(np.nanpercentile(np.abs(np.concatenate([d.ravel() for d in diffs])), 99))
    lim = max(lim, 1e-3)
    panels = [(ca, "a (reference)", (-1, 1), "RdBu_r"), (cb, "b (candidate)", (-1, 1), "RdBu_r"),
              (diffs[0], "b - a", (-lim, lim), "PuOr_r")]
    if sx is not None:
        panels.append((diffs[1], "aux - a (yardstick)", (-lim, lim), "PuOr_r"))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4))
    for ax, (m, title, lim, cmap) in zip(axes, panels, strict=False):
        im = ax.imshow(m, origin="lower", vmin=lim[0], vmax=lim[1], cmap=cmap)
        ax.set_title(title)
        ax.set_xlabel("mode index")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle("Power-spectrum correlation matrices")
    return _save(fig, path, dpi=100)


def _fig_minkowski(res, path):
    plt = _plt()
    sa, sb = res.stats_a, res.stats_b
    nu = np.asarray(sa["nu"])
    funcs = [str(f) for f in np.asarray(sa["functional"])]
    fig, axes = plt.subplots(1, len(funcs), figsize=(4 * len(funcs), 3.5))
    for i, (ax, f) in enumerate(zip(axes, funcs, strict=False)):
        _band(ax, nu, np.asarray(sa["minkowski"])[:, i], "k", "a")
        _band(ax, nu, np.asarray(sb["minkowski"])[:, i], "C3", "b")
        ax.set_title(f)
        ax.set_xlabel(r"threshold $\nu$ [" + str(sa.attrs.get("nu_units", "sigma")) + "]")
    axes[0].legend()
    fig.suptitle(r"Minkowski functionals: mean $\pm 1\sigma$")
    return _save(fig, path, dpi=100)


def _fig_pvalues(res, path):
    plt = _plt()
    fams = [f for n, f in res.families.items() if n != "correlation"]
    fig, axes = plt.subplots(len(fams), 1, figsize=(8, 1.9 * len(fams)), squeeze=False)
    for ax, f in zip(axes[:, 0], fams, strict=False):
        x = np.arange(len(f.labels))
        for t, mk in zip(f.pvalue, ("o", "s"), strict=False):
            ax.plot(x, f.pvalue[t], mk, ms=3, label=t.upper())
        ax.axhline(f.alpha_family, color="C3", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_ylim(min(0.5 / (res.n_resamples + 1), 1e-3), 1.2)
        ax.set_ylabel("p")
        ax.set_title(f"{_NAMES.get(f.family, f.family)}: {f.verdict} "
                     f"(family p = {f.family_pvalue:.3g})", fontsize=9)
    axes[0, 0].legend(fontsize=8, loc="lower right")
    axes[-1, 0].set_xlabel("column index")
    return _save(fig, path, dpi=100)


def write_report(res: ComparisonResult, directory, *, title: str = "lensval comparison") -> Path:
    """Write ``index.html``, the figures (PNG), ``result.json`` and ``result.nc``.

    Files are written into a temporary folder and moved into ``directory`` at the end,
    so an interrupted report leaves no partial page behind.
    """
    import shutil
    import tempfile

    from lensval.errors import InputError

    out = Path(directory)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write the report: folder '{parent}' does not exist")
    if out.exists() and not out.is_dir():
        raise InputError(f"cannot write the report: '{out}' exists and is not a folder")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes owner-only folders
    except OSError as exc:
        raise InputError(f"cannot write the report into '{out}': {exc.strerror}") from None
    try:
        figs = []
        for name, fn, caption in (
            ("pixel_intensity.png", _fig_pixel, "Pixel-intensity distribution (log counts)."),
            ("power_spectrum.png", _fig_power, "Power spectrum, mean and 1-sigma band; "
             "bottom: fractional difference of the means, grey: its 1-sigma standard error."),
            ("power_modes.png", _fig_power_modes, "Distributions of P at four modes."),
            ("correlation.png", _fig_corr, "Correlation matrices of the power spectrum and "
             "their differences (with the auxiliary set as yardstick, if given)."),
            ("minkowski.png", _fig_minkowski, "Minkowski functionals, mean and 1-sigma band."),
            ("pvalues.png", _fig_pvalues, "p-value per column; dashed: the family threshold."),
        ):
            if fn(res, tmp / name) is not None:
                figs.append((name, caption))
        (tmp / "result.json").write_text(res.to_json())
        res.to_dataset().to_netcdf(tmp / "result.nc", engine="h5netcdf")
        body = [f"<h1>{html.escape(title)}</h1>",
                f"<p><b>Verdict: {'AGREE' if res.agree else 'DISAGREE'}</b></p>",
                f"<pre>{html.escape(res.table())}</pre>"]
        for name, caption in figs:
            body.append(f'<figure><img src="{name}" style="max-width:100%">'
                        f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        body.append("<p>Machine-readable: <a href='result.json'>result.json</a>, "
                    "<a href='result.nc'>result.nc</a>.</p>")
        (tmp / "index.html").write_text(
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;"
            "max-width:1100px;margin:auto}} pre{{background:#f6f6f6;padding:8px}}</style>"
            "</head><body>" + "\n".join(body) + "</body></html>")
        # swap folders: the old report is replaced whole, never mixed with the new one
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=parent))
            os.replace(out, old / "report")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "index.html"
