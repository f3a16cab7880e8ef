"""Two ensembles in, a calibrated, paper-style verdict out.

``compare(a, b)`` runs the pipeline ``maps -> summary statistics (cached) -> two-sample
tests -> verdict``. ``a`` is the reference (simulation, e.g. the validation split) and
``b`` the candidate (generated maps). Every family of features (pixel, power, Minkowski
V0/V1/V2, peaks, correlation) gets per-column statistics and p-values, the paper's counts
(fraction of columns with p > 0.99 / 0.95 / 0.8, min and median p) and a verdict.

Verdict rule (documented in ``docs/comparison.md`` with its measured false-positive
rate): within a family, the per-column statistics of both tests (KS and AD) are combined
by the Westfall-Young max-T adjustment (each standardised by its permutation
distribution; the same permutations give the null distribution of the largest one, so
correlations between columns are taken into account exactly); a family *disagrees*
when its adjusted p-value is below
``alpha / n_families`` (Bonferroni across families), so that the chance that any family
of two samples from the same distribution is flagged is at most ``alpha``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lensval import __version__
from lensval._defaults import cache_dir
from lensval.errors import ConfigMismatchError, InputError

__all__ = ["compare", "ComparisonResult", "FamilyResult", "summarize_input", "FAMILIES"]

#: Families in the order they are reported.
FAMILIES = ("pixel", "power", "power_mean", "minkowski_V0", "minkowski_V1", "minkowski_V2",
            "peaks", "correlation")
METHODS = ("permutation", "bootstrap", "asymptotic")
TESTS = ("ks", "ad")
#: Cap on the relabellings of the correlation family (each costs one k x k GEMM).
CORRELATION_MAX_RESAMPLES = 999
#: Thresholds of the paper's counts of columns "with p-value above".
PAPER_LEVELS = (0.99, 0.95, 0.8)


# --------------------------------------------------------------------------- inputs
def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _is_stats(ds: xr.Dataset) -> bool:
    return "power" in ds.data_vars and "kappa" not in ds.data_vars


def summarize_input(obj: Any, *, config=None, angle_deg: float | None = None,
                    default_angle: float | None = None, cache: bool = True,
                    progress: bool | None = None, name: str = "input") -> xr.Dataset:
    """Statistics of ``obj`` (maps or statistics; arrays, xarray objects or paths).

    Map files are summarised once and cached under ``$LENSVAL_CACHE_DIR`` (default
    ``~/.cache/lensval/stats``) with a key made of the file's content hash and the
    statistics configuration hash, so a changed file or configuration never serves
    stale statistics. ``angle_deg`` is what the user gave (it must agree with a file's
    own value); ``default_angle`` is used only for inputs that carry none (plain arrays,
    ``.npy``/``.npz``).
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
        angle_key = hashlib.sha256(repr(None if angle_deg is None else float(angle_deg))
                                   .encode()).hexdigest()[:8]
        key = f"{_file_digest(path)[:32]}-{cfg.config_hash()[:16]}-{angle_key}"
        cached = cache_dir("stats") / f"{key}.nc"
        if cache and cached.exists():
            try:
                return open_stats(cached).load()
            except InputError:
                cached.unlink(missing_ok=True)
        if angle_deg is None and path.suffix.lower() in (".npy", ".npz"):
            angle_deg = default_angle
        maps = open_maps(path, angle_deg=angle_deg)
        _warn_correlated_tiles(maps, f"'{path}'")
        try:
            ds = summarize(maps, config=cfg, progress=progress)
        except InputError as exc:
            msg = str(exc)
            raise InputError(msg if str(path) in msg else f"'{path}': {msg}") from None
        ds.attrs["source_file"] = str(path)
        if cache:
            cached.parent.mkdir(parents=True, exist_ok=True)
            save_dataset(ds, cached)
        return ds
    if isinstance(obj, xr.Dataset):
        if _is_stats(obj):
            return obj
        if "kappa" in obj:
            if angle_deg is None and "angle_deg" not in obj["kappa"].attrs:
                angle_deg = default_angle
            return summarize(as_maps(obj, angle_deg=angle_deg, check=False), config=cfg,
                             progress=progress)
        raise InputError(f"{name}: dataset has neither 'power' (statistics) nor 'kappa' (maps)")
    if angle_deg is None and not (isinstance(obj, xr.DataArray) and "angle_deg" in obj.attrs):
        angle_deg = default_angle
    maps = as_maps(obj, angle_deg=angle_deg, check=False, name=name)
    _warn_correlated_tiles(maps, name)
    return summarize(maps, config=cfg, progress=progress)


def _warn_correlated_tiles(maps, where: str) -> None:
    tiles = maps.attrs.get("tiles_per_parent")
    if tiles is not None and int(tiles) > 1:
        import warnings

        warnings.warn(
            f"{where} holds tiles of larger maps ({int(tiles)} per parent): correlated "
            "samples make the tests anti-conservative; simulate with --tiles-per-parent 1",
            UserWarning, stacklevel=3)


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
                                [lab for lab, v in zip(c.labels, varying, strict=False) if v],
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
        ds["rule"] = xr.DataArray([f.rule for f in self.families.values()], dims="family")
        ds.attrs.update(method=self.method, n_resamples=self.n_resamples,
                        seed=-1 if self.seed is None else self.seed, alpha=self.alpha,
                        n_a=self.n_a, n_b=self.n_b, lensval_version=__version__)
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
def _resolve_seed(rng) -> tuple[np.random.SeedSequence, int | None]:
    """A SeedSequence to spawn one stream per family from, and the integer seed if any."""
    if isinstance(rng, np.random.Generator):
        # one draw from the user's generator seeds everything, so the families stay
        # independent of each other's number of draws
        return np.random.SeedSequence(int(rng.integers(2**63))), None
    if rng is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    elif isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        seed = int(rng)
    else:
        raise InputError(f"rng must be a non-negative integer seed, a numpy Generator or "
                         f"None, got {rng!r}")
    return np.random.SeedSequence(seed), seed


def _max_t(obs: list[np.ndarray], null: list[np.ndarray]) -> float:
    """Family p-value by the Westfall-Young single-step max-T adjustment.

    ``obs`` holds per-test observed statistics ``(k,)``, ``null`` the matching
    permutation statistics ``(B, k)`` (larger = more extreme). Each column is
    standardised by the mean and standard deviation of its permutation distribution,
    so that columns of different scales (and the KS and AD tests) compete fairly; the
    family statistic is the largest standardised statistic, and its p-value is
    ``(1 + #{b: max_j z_bj >= max_j z_obs_j}) / (B + 1)`` over the same permutations.
    Unlike the min-p form, it does not saturate at the ``1/(B+1)`` resolution of the
    per-column p-values when there are many columns.
    """
    z_obs, z_null = [], []
    for o, n in zip(obs, null, strict=False):
        mu, sd = n.mean(axis=0), n.std(axis=0)
        ok = sd > 1e-12 * np.maximum(np.abs(mu), 1e-300)  # degenerate null: no information
        sd = np.where(ok, sd, 1.0)
        z_obs.append(np.where(ok, (o - mu) / sd, 0.0))
        z_null.append(np.where(ok, (n - mu) / sd, 0.0))
    t_obs = float(np.max(np.concatenate(z_obs)))
    t_null = np.max(np.hstack(z_null), axis=1)
    B = t_null.size
    tol = 1e-9 * max(abs(t_obs), 1.0)
    return float((1 + np.count_nonzero(t_null >= t_obs - tol)) / (B + 1))


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
            nulls.append(np.asarray(res[t].null_distribution, float))
        fam_p = _max_t([stat[t] for t in tests], nulls)
        rule = ("Westfall-Young max-T over columns and tests (permutation), Bonferroni over "
                "families")
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
        import warnings

        for t in tests:
            with warnings.catch_warnings():
                # SciPy falls back to the asymptotic KS p-value where the exact one fails
                warnings.filterwarnings("ignore", message=".*xact calculation unsuccessful.*",
                                        category=RuntimeWarning)
                r = gof.ks_2samp(cols.a, cols.b, axis=0) if t == "ks" else \
                    gof.anderson_ksamp(cols.a, cols.b, axis=0)
            stat[t] = np.asarray(r.statistic, float)
            pval[t] = np.asarray(r.pvalue, float)
        fam_p = _holm(np.concatenate([pval[t] for t in tests]))
        rule = ("Holm over the asymptotic p-values of all columns and tests, Bonferroni over "
                "families")
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
    fam_p = _max_t([t_obs], [null])
    rule = "Westfall-Young max-T over columns (permutation, |Welch t|), Bonferroni over families"
    return {"t": t_obs}, {"t": pv}, fam_p, rule


def _correlation_family(a: xr.Dataset, b: xr.Dataset, aux: xr.Dataset | None,
                        n_resamples: int, rng: np.random.Generator) -> tuple[dict, float, str]:
    """Correlation matrices of the power spectrum: RMS/max |C_a - C_b|, calibrated by
    permutation (B = min(n_resamples, 999) relabellings), and against an auxiliary set."""
    keep = np.asarray(a["n_modes"]) > 0
    sets = [np.asarray(d["power"]) for d in (a, b) + (() if aux is None else (aux,))]
    for x in sets:  # a correlation needs variance in every set
        keep &= x.max(axis=0) > x.min(axis=0)
    if keep.sum() < 2:
        raise InputError("the power spectra have fewer than 2 varying modes: the correlation "
                         "family cannot be tested (leave it out with families=...)")
    pa, pb = sets[0][:, keep], sets[1][:, keep]
    from lensval import gof

    cmp = gof.compare_correlations(pa, pb, aux=None if aux is None else sets[2][:, keep])
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
    B = int(min(n_resamples, CORRELATION_MAX_RESAMPLES))
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
    ang_a = sa.attrs.get("angle_deg")
    sb = summarize_input(b, config=config, angle_deg=angle_deg, default_angle=ang_a,
                         cache=cache, progress=progress, name="b")
    check_comparable(sa, sb, ("a", "b"))
    for nm, ds in (("a", sa), ("b", sb)):
        if ds.sizes["sample"] < 2:
            raise InputError(f"{nm} has {ds.sizes['sample']} map(s); two-sample tests need at "
                             "least 2 per ensemble")
    saux = None
    if aux is not None:
        saux = summarize_input(aux, config=config, angle_deg=angle_deg, default_angle=ang_a,
                               cache=cache, progress=progress, name="aux")
        check_comparable(sa, saux, ("a", "aux"))

    gen, seed = _resolve_seed(rng)
    cols = _family_columns(sa, sb)
    requested = list(dict.fromkeys(families or FAMILIES))  # keep order, drop repeats
    wanted = [f for f in requested if f in cols or (f == "correlation" and "power" in cols)]
    if not wanted:
        raise InputError(f"none of the families {requested} has a varying feature to test")
    n_fam = len(wanted)
    alpha_f = alpha / n_fam
    # permutation-based families: can their smallest p-value get below the threshold?
    perm_b = {f: (min(int(n_resamples), CORRELATION_MAX_RESAMPLES) if f == "correlation"
                  else int(n_resamples))
              for f in wanted if method == "permutation" or f in ("power_mean", "correlation")}
    blind = [f for f, B in perm_b.items() if 1.0 / (B + 1) >= alpha_f]
    if blind:
        import warnings

        B = min(perm_b[f] for f in blind)
        warnings.warn(
            f"with {B} resamples the smallest permutation p-value is {1 / (B + 1):.3g}, not "
            f"below the family threshold {alpha_f:.3g}: {', '.join(blind)} cannot disagree; "
            f"use n_resamples >= {int(np.ceil(1 / alpha_f))}",
            UserWarning, stacklevel=2)
    results: dict[str, FamilyResult] = {}
    from lensval._progress import progress_bar

    with progress_bar(n_fam, "two-sample tests", unit="family", progress=progress) as bar:
        for fam in wanted:
            # one independent, seeded stream per family: adding a family never changes
            # another family's numbers
            fam_rng = np.random.default_rng(
                np.random.SeedSequence(gen.entropy, spawn_key=(FAMILIES.index(fam),)))
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
