"""Two ensembles in, a calibrated, paper-style verdict out.

``compare(a, b)`` runs the pipeline ``maps -> summary statistics (cached) -> two-sample
tests -> verdict``. ``a`` is the reference (simulation, e.g. the validation split) and
``b`` the candidate (generated maps). Every family of features (pixel, power, Minkowski
V0/V1/V2, peaks, correlation) gets per-column statistics and p-values, the paper's counts
(fraction of columns with p > 0.99 / 0.95 / 0.8, min and median p) and a verdict.

Verdict rule (documented in ``docs/comparison.md`` with its measured false-positive
rate): within a family, the per-column permutation p-values of both tests (KS and AD)
are combined by the Westfall-Young min-p adjustment (the same permutations give the
null distribution of the smallest p-value, so correlations between columns are taken
into account exactly); a family *disagrees* when its adjusted p-value is below
``alpha / n_families`` (Bonferroni across families), so that the chance that any family
of two samples from the same distribution is flagged is at most ``alpha``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lensval import __version__
from lensval.errors import ConfigMismatchError, InputError

__all__ = ["compare", "ComparisonResult", "FamilyResult", "summarize_input", "FAMILIES"]

#: Families in the order they are reported.
FAMILIES = ("pixel", "power", "power_mean", "minkowski_V0", "minkowski_V1", "minkowski_V2",
            "peaks", "correlation")
METHODS = ("permutation", "bootstrap", "asymptotic")
TESTS = ("ks", "ad")
#: Thresholds of the paper's counts of columns "with p-value above".
PAPER_LEVELS = (0.99, 0.95, 0.8)


# --------------------------------------------------------------------------- inputs
def _cache_dir() -> Path:
    root = os.environ.get("LENSVAL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lensval")
    return Path(root) / "stats"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _is_stats(ds: xr.Dataset) -> bool:
    return "power" in ds.data_vars and "kappa" not in ds.data_vars


def summarize_input(obj: Any, *, config=None, angle_deg: float | None = None,
                    cache: bool = True, progress: bool | None = None,
                    name: str = "input") -> xr.Dataset:
    """Statistics of ``obj`` (maps or statistics; arrays, xarray objects or paths).

    Map files are summarised once and cached under ``$LENSVAL_CACHE_DIR`` (default
    ``~/.cache/lensval/stats``) with a key made of the file's content hash and the
    statistics configuration hash, so a changed file or configuration never serves
    stale statistics.
    """
    from lensval.io import as_maps, open_maps, open_stats, save_dataset
    from lensval.stats import StatsConfig, summarize

    cfg = config if config is not None else StatsConfig()
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if not path.exists():
            raise InputError(f"'{path}' does not exist")
        if path.suffix == ".nc":
            ds = open_stats(path) if _peek_is_stats(path) else None
            if ds is not None:
                return ds.load()
        key = f"{_file_digest(path)[:32]}-{cfg.config_hash()[:16]}"
        cached = _cache_dir() / f"{key}.nc"
        if cache and cached.exists():
            try:
                return open_stats(cached).load()
            except InputError:
                cached.unlink(missing_ok=True)
        maps = open_maps(path, angle_deg=angle_deg)
        ds = summarize(maps, config=cfg, progress=progress)
        ds.attrs["source_file"] = str(path)
        if cache:
            cached.parent.mkdir(parents=True, exist_ok=True)
            save_dataset(ds, cached)
        return ds
    if isinstance(obj, xr.Dataset):
        if _is_stats(obj):
            return obj
        if "kappa" in obj:
            return summarize(as_maps(obj, angle_deg=angle_deg, check=False), config=cfg,
                             progress=progress)
        raise InputError(f"{name}: dataset has neither 'power' (statistics) nor 'kappa' (maps)")
    maps = as_maps(obj, angle_deg=angle_deg, check=False, name=name)
    return summarize(maps, config=cfg, progress=progress)


def _peek_is_stats(path: Path) -> bool:
    from lensval.io import _open_netcdf

    with _open_netcdf(path, f"'{path}'") as ds:
        return _is_stats(ds)


def check_comparable(a: xr.Dataset, b: xr.Dataset, names=("a", "b")) -> None:
    """Refuse statistics made with different geometry or configuration (names the difference)."""
    diffs = []
    for key in ("angle_deg", "map_size"):
        va, vb = a.attrs.get(key), b.attrs.get(key)
        if va is None or vb is None:
            continue
        if not np.isclose(float(va), float(vb), rtol=1e-9, atol=0):
            diffs.append(f"{key} {va} vs {vb}")
    if a.attrs.get("config_hash") != b.attrs.get("config_hash"):
        from lensval.stats import StatsConfig

        try:
            ca, cb = StatsConfig.from_attrs(a.attrs), StatsConfig.from_attrs(b.attrs)
            for field in dataclasses.fields(ca):
                x, y = getattr(ca, field.name), getattr(cb, field.name)
                same = (np.array_equal(np.asarray(x), np.asarray(y))
                        if isinstance(x, (np.ndarray, tuple, list)) else x == y)
                if not same:
                    diffs.append(f"{field.name} differs")
        except Exception:
            pass
        if not diffs:
            diffs.append(f"config_hash {a.attrs.get('config_hash')} vs "
                         f"{b.attrs.get('config_hash')}")
    if diffs:
        raise ConfigMismatchError(
            f"{names[0]} and {names[1]} are not comparable: {'; '.join(diffs)}; "
            "summarise both with the same settings (and maps of the same geometry)"
        )


# --------------------------------------------------------------------------- features
@dataclasses.dataclass
class _Columns:
    a: np.ndarray        # (n_a, k)
    b: np.ndarray        # (n_b, k)
    labels: list[str]
    coord: np.ndarray    # (k,) numeric position for plots (ell, nu, kappa, ...)
    coord_name: str


def _family_columns(a: xr.Dataset, b: xr.Dataset) -> dict[str, _Columns]:
    out: dict[str, _Columns] = {}

    # power: modes that contain Fourier pixels
    modes = np.asarray(a["n_modes"]) > 0 if "n_modes" in a.coords or "n_modes" in a else None
    ell = np.asarray(a["ell"])
    keep = modes if modes is not None else np.ones(ell.size, bool)
    out["power"] = _Columns(np.asarray(a["power"])[:, keep], np.asarray(b["power"])[:, keep],
                            [f"ell={v:.0f}" for v in ell[keep]], ell[keep], "ell")
    # the mean spectrum alone (Welch t per mode): a Gaussian field with the right
    # spectrum passes this one and fails the per-mode distributions above
    out["power_mean"] = out["power"]

    nu = np.asarray(a["nu"])
    funcs = [str(f) for f in np.asarray(a["functional"])]
    for i, f in enumerate(funcs):
        out[f"minkowski_{f}"] = _Columns(
            np.asarray(a["minkowski"])[:, i, :], np.asarray(b["minkowski"])[:, i, :],
            [f"nu={v:+.2f}" for v in nu], nu, "nu")

    # pixel: per-map moments and per-map fractions of pixels in each kappa bin (each map
    # is one exchangeable sample, so permutation p-values are calibrated; the pooled
    # histogram is shown in the report, never tested bin count against bin count)
    cols_a, cols_b, labels, coord = [], [], [], []
    if "moments" in a:
        mom = [str(m) for m in np.asarray(a["moment"])]
        cols_a.append(np.asarray(a["moments"]))
        cols_b.append(np.asarray(b["moments"]))
        labels += mom
        coord += [np.nan] * len(mom)
    if "pixel_hist" in a:
        ha = np.asarray(a["pixel_hist"], dtype=np.float64)
        hb = np.asarray(b["pixel_hist"], dtype=np.float64)
        npix = float(a.attrs.get("map_size", 256)) ** 2
        mid = 0.5 * (np.asarray(a["kappa_lo"]) + np.asarray(a["kappa_hi"]))
        cols_a.append(ha / npix)
        cols_b.append(hb / npix)
        labels += [f"kappa={v:+.3f}" for v in mid]
        coord += list(mid)
    if cols_a:
        out["pixel"] = _Columns(np.hstack(cols_a), np.hstack(cols_b), labels,
                                np.asarray(coord, float), "kappa")

    if "peaks" in a:
        pk_dim = [d for d in a["peaks"].dims if d != "sample"][0]
        pnu = np.asarray(a[pk_dim])
        out["peaks"] = _Columns(np.asarray(a["peaks"], float), np.asarray(b["peaks"], float),
                                [f"nu={v:+.2f}" for v in pnu], pnu, "nu")

    # drop columns that are constant over both sets together (no information, and they
    # would inflate the "p > 0.99" counts)
    for fam, c in list(out.items()):
        pooled = np.vstack([c.a, c.b])
        varying = pooled.max(axis=0) > pooled.min(axis=0)
        if not varying.all():
            out[fam] = _Columns(c.a[:, varying], c.b[:, varying],
                                [lab for lab, v in zip(c.labels, varying) if v],
                                c.coord[varying], c.coord_name)
        if out[fam].a.shape[1] == 0:
            del out[fam]
    return out


# --------------------------------------------------------------------------- results
@dataclasses.dataclass
class FamilyResult:
    """Per-family outcome of a comparison.

    Attributes
    ----------
    family : str
    labels : list of str
        One label per feature column.
    coord : ndarray, shape (k,)
        Numeric position of each column (ell, nu or kappa) for plots.
    statistic, pvalue : dict of str -> ndarray, shape (k,)
        Per-test (``"ks"``, ``"ad"``) observed statistic and p-value.
        For ``method="bootstrap"`` the p-value is the median over resamples and
        ``pvalue_p05`` holds the 5th percentile.
    pvalue_p05 : dict of str -> ndarray or None
    family_pvalue : float
        The multiplicity-adjusted p-value of the whole family (see the module notes).
    alpha_family : float
        Threshold the family p-value is compared with.
    verdict : str
        ``"agree"`` or ``"disagree"``.
    rule : str
        The rule that produced the verdict.
    extra : dict
        Family-specific numbers (e.g. the correlation-matrix differences).
    """

    family: str
    labels: list[str]
    coord: np.ndarray
    statistic: dict[str, np.ndarray]
    pvalue: dict[str, np.ndarray]
    family_pvalue: float
    alpha_family: float
    verdict: str
    rule: str
    pvalue_p05: dict[str, np.ndarray] | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def counts(self, test: str) -> dict[str, float]:
        """The paper's counts: fraction of columns with p above 0.99/0.95/0.8, min, median."""
        p = np.asarray(self.pvalue[test])
        out = {f"frac_p_gt_{lvl:g}": float(np.mean(p > lvl)) for lvl in PAPER_LEVELS}
        out["min_p"] = float(p.min())
        out["median_p"] = float(np.median(p))
        return out


@dataclasses.dataclass
class ComparisonResult:
    """Outcome of :func:`compare`: per-family results plus provenance.

    Attributes
    ----------
    families : dict of str -> FamilyResult
    method : str
        ``"permutation"``, ``"bootstrap"`` or ``"asymptotic"``.
    n_resamples : int
    seed : int or None
    alpha : float
        Overall level; each family is judged at ``alpha / len(families)``.
    n_a, n_b, n_aux : int
        Number of samples (maps) in each input.
    stats_a, stats_b, stats_aux : xarray.Dataset
        The summary statistics the tests ran on (used by :meth:`report`).
    meta : dict
        Provenance (lensval version, config hash, names of the inputs, ...).
    """

    families: dict[str, FamilyResult]
    method: str
    n_resamples: int
    seed: int | None
    alpha: float
    n_a: int
    n_b: int
    n_aux: int | None
    stats_a: xr.Dataset = dataclasses.field(repr=False)
    stats_b: xr.Dataset = dataclasses.field(repr=False)
    stats_aux: xr.Dataset | None = dataclasses.field(default=None, repr=False)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def agree(self) -> bool:
        """True when every family agrees."""
        return all(f.verdict == "agree" for f in self.families.values())

    @property
    def verdicts(self) -> dict[str, str]:
        return {k: f.verdict for k, f in self.families.items()}

    # -- presentation ----------------------------------------------------------------
    def table(self) -> str:
        """A readable, paper-style text table."""
        from lensval.report import format_table

        return format_table(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able summary (per-column arrays included as lists)."""
        fams = {}
        for name, f in self.families.items():
            entry = {
                "verdict": f.verdict,
                "family_pvalue": f.family_pvalue,
                "alpha_family": f.alpha_family,
                "rule": f.rule,
                "n_columns": len(f.labels),
                "columns": f.labels,
                "counts": {t: f.counts(t) for t in f.pvalue},
                "statistic": {t: _tolist(v) for t, v in f.statistic.items()},
                "pvalue": {t: _tolist(v) for t, v in f.pvalue.items()},
            }
            if f.pvalue_p05:
                entry["pvalue_p05"] = {t: _tolist(v) for t, v in f.pvalue_p05.items()}
            if f.extra:
                entry["extra"] = {k: _tolist(v) for k, v in f.extra.items()}
            fams[name] = entry
        return {
            "agree": self.agree,
            "verdicts": self.verdicts,
            "method": self.method,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "alpha": self.alpha,
            "n_a": self.n_a,
            "n_b": self.n_b,
            "n_aux": self.n_aux,
            "families": fams,
            "meta": {k: _tolist(v) for k, v in self.meta.items()},
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_dataset(self) -> xr.Dataset:
        """Per-column statistics and p-values as one Dataset (one column dim per family)."""
        data = {}
        for name, f in self.families.items():
            dim = f"{name}_column"
            coords = {dim: f.labels}
            for t in f.statistic:
                data[f"{name}_{t}_statistic"] = xr.DataArray(f.statistic[t], dims=dim,
                                                             coords=coords)
                data[f"{name}_{t}_pvalue"] = xr.DataArray(f.pvalue[t], dims=dim, coords=coords)
                if f.pvalue_p05:
                    data[f"{name}_{t}_pvalue_p05"] = xr.DataArray(f.pvalue_p05[t], dims=dim,
                                                                  coords=coords)
        ds = xr.Dataset(data)
        ds["family"] = xr.DataArray(list(self.families), dims="family")
        ds["verdict"] = xr.DataArray([f.verdict for f in self.families.values()], dims="family")
        ds["family_pvalue"] = xr.DataArray(
            [f.family_pvalue for f in self.families.values()], dims="family")
        ds.attrs.update(method=self.method, n_resamples=self.n_resamples,
                        seed=-1 if self.seed is None else self.seed, alpha=self.alpha,
                        n_a=self.n_a, n_b=self.n_b, lensval_version=__version__,
                        rule=next(iter(self.families.values())).rule if self.families else "")
        return ds

    def to_netcdf(self, path) -> Path:
        from lensval.io import save_dataset

        return save_dataset(self.to_dataset(), path)

    def report(self, directory, *, title: str = "lensval comparison") -> Path:
        """Write an HTML page with PNG figures in the paper's form into ``directory``."""
        from lensval.report import write_report

        return write_report(self, directory, title=title)


def _tolist(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, dict):
        return {k: _tolist(x) for k, x in v.items()}
    return v


# --------------------------------------------------------------------------- engine
def _resolve_seed(rng) -> tuple[np.random.Generator, int | None]:
    if isinstance(rng, np.random.Generator):
        return rng, None
    if rng is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    else:
        seed = int(rng)
    return np.random.default_rng(seed), seed


def _westfall_young(obs_p: np.ndarray, null_p: np.ndarray) -> float:
    """Adjusted family p-value from the min-p over columns (Westfall & Young 1993).

    ``obs_p`` (k,) observed per-column p-values; ``null_p`` (B, k) the per-column
    p-values of each permutation, computed against the same null distribution.
    """
    min_obs = obs_p.min()
    min_null = null_p.min(axis=1)
    B = null_p.shape[0]
    # same tolerance as the per-column comparison: p-values are multiples of 1/(B+1)
    return float((1 + np.count_nonzero(min_null <= min_obs * (1 + 1e-12))) / (B + 1))


def _null_pvalues(null: np.ndarray) -> np.ndarray:
    """Per-permutation p-values: for each null statistic, (1 + #{null >= it}) / (B + 1)."""
    B, k = null.shape
    out = np.empty_like(null, dtype=np.float64)
    for j in range(k):
        col = null[:, j]
        srt = np.sort(col)
        # number of null values >= each value
        ge = B - np.searchsorted(srt, col, side="left")
        out[:, j] = (1 + ge) / (B + 1)
    return out


def _holm(p: np.ndarray) -> float:
    """Holm-adjusted minimum p-value (family p for non-permutation methods)."""
    p = np.sort(np.asarray(p, float).ravel())
    m = p.size
    adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p))
    return float(adj[0])


def _test_family(cols: _Columns, method: str, n_resamples: int, rng: np.random.Generator,
                 batch: int | None, tests: tuple[str, ...]) -> tuple[dict, dict, dict | None,
                                                                     float, str]:
    from lensval import gof

    stat, pval, p05 = {}, {}, None
    if method == "permutation":
        res = gof.permutation_test(cols.a, cols.b, axis=0, tests=tests,
                                   n_resamples=n_resamples, rng=rng, batch=batch)
        nulls = []
        for t in tests:
            stat[t] = np.asarray(res[t].statistic, float)
            pval[t] = np.asarray(res[t].pvalue, float)
            nulls.append(_null_pvalues(np.asarray(res[t].null_distribution, float)))
        obs = np.concatenate([pval[t] for t in tests])
        fam_p = _westfall_young(obs, np.hstack(nulls))
        rule = "Westfall-Young min-p over columns and tests (permutation), Bonferroni over families"
    elif method == "bootstrap":
        res = gof.bootstrap_test(cols.a, cols.b, axis=0, tests=tests,
                                 n_resamples=n_resamples, rng=rng, batch=batch)
        p05 = {}
        for t in tests:
            stat[t] = np.asarray(res[t].statistic, float)
            pval[t] = np.asarray(res[t].pvalue, float)
            p05[t] = np.asarray(res[t].pvalue_p05, float)
        fam_p = _holm(np.concatenate([pval[t] for t in tests]))
        rule = ("Holm over the median bootstrap p-values of all columns and tests "
                "(not calibrated: bootstrap p-values are descriptive), Bonferroni over families")
    else:
        for t in tests:
            r = gof.ks_2samp(cols.a, cols.b, axis=0) if t == "ks" else \
                gof.anderson_ksamp(cols.a, cols.b, axis=0)
            stat[t] = np.asarray(r.statistic, float)
            pval[t] = np.asarray(r.pvalue, float)
        fam_p = _holm(np.concatenate([pval[t] for t in tests]))
        rule = "Holm over the asymptotic p-values of all columns and tests, Bonferroni over families"
    return stat, pval, p05, fam_p, rule


def _welch_t(x: np.ndarray, m: int, s1: np.ndarray, ss1: np.ndarray, s: np.ndarray,
             ss: np.ndarray) -> np.ndarray:
    """|Welch t| per column from the sums of group 1 (size m) and of the pool (size n)."""
    n = x.shape[0]
    s2, ss2 = s - s1, ss - ss1
    m2 = n - m
    mu1, mu2 = s1 / m, s2 / m2
    v1 = np.maximum(ss1 - m * mu1 * mu1, 0) / max(m - 1, 1)
    v2 = np.maximum(ss2 - m2 * mu2 * mu2, 0) / max(m2 - 1, 1)
    return np.abs(mu1 - mu2) / np.sqrt(v1 / m + v2 / m2 + 1e-300)


def _mean_family(cols: _Columns, n_resamples: int, rng: np.random.Generator,
                 batch: int | None) -> tuple[dict, dict, float, str]:
    """Per-column permutation test of the means (|Welch t|), Westfall-Young over columns."""
    x = np.vstack([cols.a, cols.b])
    n_a, n = cols.a.shape[0], x.shape[0]
    # standardise columns (pooled) so that the sums below stay well conditioned
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    s, ss = x.sum(axis=0), (x * x).sum(axis=0)
    t_obs = _welch_t(x, n_a, x[:n_a].sum(axis=0), (x[:n_a] ** 2).sum(axis=0), s, ss)
    B = int(n_resamples)
    null = np.empty((B, x.shape[1]))
    x2 = x * x
    step = int(batch or 64)
    for lo in range(0, B, step):
        hi = min(lo + step, B)
        ind = np.zeros((hi - lo, n))
        for r in range(lo, hi):  # same draws whatever the batch size
            ind[r - lo, rng.permutation(n)[:n_a]] = 1.0
        null[lo:hi] = _welch_t(x, n_a, ind @ x, ind @ x2, s, ss)
    tol = 1e-9 * np.maximum(t_obs, 1.0)
    pv = (1 + np.count_nonzero(null >= t_obs - tol, axis=0)) / (B + 1)
    fam_p = _westfall_young(pv, _null_pvalues(null))
    rule = "Westfall-Young min-p over columns (permutation, |Welch t|), Bonferroni over families"
    return {"t": t_obs}, {"t": pv}, fam_p, rule


def _correlation_family(a: xr.Dataset, b: xr.Dataset, aux: xr.Dataset | None,
                        n_resamples: int, rng: np.random.Generator) -> tuple[dict, float, str]:
    """Correlation matrices of the power spectrum: RMS/max |C_a - C_b|, calibrated by
    permutation (B = min(n_resamples, 199) relabellings), and against an auxiliary set."""
    keep = np.asarray(a["n_modes"]) > 0
    pa = np.asarray(a["power"])[:, keep]
    pb = np.asarray(b["power"])[:, keep]
    from lensval import gof

    cmp = gof.compare_correlations(pa, pb, aux=None if aux is None else
                                   np.asarray(aux["power"])[:, keep])
    extra = {
        "max_abs_diff": float(cmp.max_abs_diff),
        "rms_abs_diff": float(cmp.rms_abs_diff),
    }
    if aux is not None:
        extra["max_abs_diff_aux"] = float(cmp.max_abs_diff_aux)
        extra["rms_abs_diff_aux"] = float(cmp.rms_abs_diff_aux)
        extra["ratio_max"] = float(cmp.ratio_max)
        extra["ratio_rms"] = float(cmp.ratio_rms)

    # permutation null of the RMS difference: the pooled cross-product matrix is fixed,
    # so each relabelling needs the moments of the smaller group only
    pooled = np.vstack([pa, pb])
    n_a, n = pa.shape[0], pooled.shape[0]
    small_is_a = n_a <= n - n_a
    m = n_a if small_is_a else n - n_a
    tot_s = pooled.sum(axis=0)
    tot_ss = pooled.T @ pooled
    iu = np.triu_indices(pooled.shape[1], 1)

    def _corr(s, ss, k):
        cov = ss / k - np.outer(s / k, s / k)
        d = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
        return cov / np.outer(d, d)

    def _rms(idx_small):
        xs = pooled[idx_small]
        s1, ss1 = xs.sum(axis=0), xs.T @ xs
        c1 = _corr(s1, ss1, m)
        c2 = _corr(tot_s - s1, tot_ss - ss1, n - m)
        d = (c1 - c2)[iu]
        return np.sqrt(np.mean(d * d))

    obs_idx = np.arange(n_a) if small_is_a else np.arange(n_a, n)
    t_obs = _rms(obs_idx)
    B = int(min(n_resamples, 199))
    perms = np.array([_rms(rng.permutation(n)[:m]) for _ in range(B)])
    p = float((1 + np.count_nonzero(perms >= t_obs * (1 - 1e-12))) / (B + 1))
    extra["rms_abs_diff_permutation_null_median"] = float(np.median(perms))
    extra["n_permutations"] = B
    return extra, p, f"permutation test of the RMS correlation difference (B={B})"


def compare(a, b, *, aux=None, method: str = "permutation", n_resamples: int = 1000,
            rng=0, tests: tuple[str, ...] = TESTS, families: tuple[str, ...] | None = None,
            alpha: float = 0.05, angle_deg: float | None = None, config=None,
            batch: int | None = None, cache: bool = True,
            progress: bool | None = None) -> ComparisonResult:
    """Compare two ensembles of convergence maps, family by family.

    Parameters
    ----------
    a : maps or statistics
        The reference (simulations, e.g. the validation split): an ``(N, M, M)`` array,
        a ``kappa`` DataArray, a statistics Dataset (:func:`lensval.summarize`) or a path
        to any of them (``.nc``, ``.npy``).
    b : maps or statistics
        The candidate (e.g. generated maps), same forms. Plain arrays without a map size
        take ``angle_deg`` (or ``a``'s when not given).
    aux : maps or statistics, optional
        An independent set from the reference distribution: the yardstick for the
        correlation-matrix comparison (the paper's auxiliary set).
    method : {"permutation", "bootstrap", "asymptotic"}
        ``permutation`` (default) gives calibrated p-values; ``bootstrap`` the paper's
        median bootstrapped p-values (descriptive); ``asymptotic`` the tests' own
        p-values.
    n_resamples : int
        Permutations or bootstrap resamples.
    rng : int, numpy.random.Generator or None
        Seed of the resampling.
    tests : tuple of {"ks", "ad"}
    families : tuple of str, optional
        Subset of :data:`FAMILIES` to test.
    alpha : float
        Overall level; a family disagrees when its adjusted p-value is below
        ``alpha / n_families``.
    config : lensval.stats.StatsConfig, optional
        Statistics configuration used to summarise map inputs (default: the one of a
        statistics input, else the default configuration).
    batch : int, optional
        Resamples per kernel call (memory); results do not depend on it.
    cache : bool
        Cache statistics of map files (content hash + configuration).

    Returns
    -------
    ComparisonResult
    """
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    bad = [t for t in tests if t not in TESTS]
    if bad or not tests:
        raise InputError(f"unknown test(s) {bad}; choose from {', '.join(TESTS)}")
    if int(n_resamples) < 1:
        raise InputError("n_resamples must be >= 1")
    if families is not None:
        unknown = [f for f in families if f not in FAMILIES]
        if unknown:
            raise InputError(f"unknown families {unknown}; choose from {', '.join(FAMILIES)}")
    from lensval.stats import StatsConfig

    # statistics of a first: its configuration (if it is a statistics file) wins
    sa = summarize_input(a, config=config, angle_deg=angle_deg, cache=cache,
                         progress=progress, name="a")
    if config is None:
        try:
            config = StatsConfig.from_attrs(sa.attrs)
        except Exception:
            config = StatsConfig()
    ang_b = angle_deg if angle_deg is not None else sa.attrs.get("angle_deg")
    sb = summarize_input(b, config=config, angle_deg=ang_b, cache=cache, progress=progress,
                         name="b")
    check_comparable(sa, sb, ("a", "b"))
    saux = None
    if aux is not None:
        saux = summarize_input(aux, config=config, angle_deg=ang_b, cache=cache,
                               progress=progress, name="aux")
        check_comparable(sa, saux, ("a", "aux"))

    gen, seed = _resolve_seed(rng)
    cols = _family_columns(sa, sb)
    wanted = [f for f in (families or FAMILIES) if f in cols or f == "correlation"]
    n_fam = len(wanted)
    alpha_f = alpha / n_fam
    if method == "permutation" and 1.0 / (int(n_resamples) + 1) >= alpha_f:
        import warnings

        warnings.warn(
            f"with n_resamples={n_resamples} the smallest permutation p-value is "
            f"{1 / (int(n_resamples) + 1):.3g}, not below the family threshold {alpha_f:.3g}: "
            f"no family can disagree; use n_resamples >= {int(np.ceil(1 / alpha_f))}",
            UserWarning, stacklevel=2)
    results: dict[str, FamilyResult] = {}
    from lensval._progress import progress_bar

    with progress_bar(n_fam, "two-sample tests", unit="family", progress=progress) as bar:
        for fam in wanted:
            # one independent, seeded stream per family: adding a family never changes
            # another family's numbers
            fam_rng = np.random.default_rng(
                [seed if seed is not None else int(gen.integers(2**31)), FAMILIES.index(fam)])
            if fam == "correlation":
                extra, fam_p, rule = _correlation_family(sa, sb, saux, n_resamples, fam_rng)
                results[fam] = FamilyResult(
                    fam, ["rms_abs_diff"], np.array([np.nan]),
                    {"rms": np.array([extra["rms_abs_diff"]])}, {"rms": np.array([fam_p])},
                    fam_p, alpha_f, "agree" if fam_p >= alpha_f else "disagree",
                    rule + ", Bonferroni over families", extra=extra)
            elif fam == "power_mean":
                c = cols[fam]
                stat, pval, fam_p, rule = _mean_family(c, int(n_resamples), fam_rng, batch)
                p05 = None
                results[fam] = FamilyResult(
                    fam, c.labels, c.coord, stat, pval, fam_p, alpha_f,
                    "agree" if fam_p >= alpha_f else "disagree", rule)
            else:
                c = cols[fam]
                stat, pval, p05, fam_p, rule = _test_family(c, method, int(n_resamples),
                                                             fam_rng, batch, tuple(tests))
                results[fam] = FamilyResult(
                    fam, c.labels, c.coord, stat, pval, fam_p, alpha_f,
                    "agree" if fam_p >= alpha_f else "disagree", rule, pvalue_p05=p05)
            bar.update(1)

    meta = {
        "lensval_version": __version__,
        "config_hash": sa.attrs.get("config_hash"),
        "angle_deg": sa.attrs.get("angle_deg"),
        "map_size": sa.attrs.get("map_size"),
    }
    return ComparisonResult(
        families=results, method=method, n_resamples=int(n_resamples), seed=seed,
        alpha=float(alpha), n_a=int(sa.sizes["sample"]), n_b=int(sb.sizes["sample"]),
        n_aux=None if saux is None else int(saux.sizes["sample"]), stats_a=sa, stats_b=sb,
        stats_aux=saux, meta=meta)
