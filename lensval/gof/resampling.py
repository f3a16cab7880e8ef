"""Resampling two-sample tests: permutation (calibrated) and bootstrap (the paper's).

Both evaluate KS and AD for every column and every resample without re-sorting: each
pooled column is sorted once, a permutation is the set of observations relabelled into
the smaller sample (shared by all columns and tests), a bootstrap resample is a vector
of multiplicities over the pooled observations. Random draws are made here, outside the
kernels, one resample at a time from the seeded Generator, so results do not depend on
``batch`` (resamples per kernel call) or on the number of threads.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from lensval._defaults import N_RESAMPLES
from lensval.errors import InputError
from lensval.gof._core import (
    observed,
    presort,
    resolve_rng,
    smaller_sample,
    two_sample_iv,
)
from lensval.gof.anderson import ad_pvalue, standardise
from lensval.gof.ks import _resolve_method, ks_pvalue, ks_statistic

__all__ = ["TestResult", "ResamplingResult", "permutation_test", "bootstrap_test"]

_TESTS = ("ks", "ad")
# Bytes of drawn resamples handed to one kernel call when ``batch`` is None.
_BATCH_BYTES = 1 << 25


@dataclass
class TestResult:
    """One test's result over all columns.

    Attributes
    ----------
    statistic : ndarray or float
        Observed statistic per column: KS ``D``; AD standardised ``T`` (exact ``sigma_N``).
    pvalue : ndarray or float
        Permutation: ``(1 + #{T_perm >= T_obs}) / (B + 1)``. Bootstrap: the median of the
        B resampled p-values.
    method : str
        ``"permutation"`` or ``"bootstrap"``.
    n_resamples : int
        B.
    null_distribution : ndarray or None
        Permutation only, shape ``(B, *columns)``: the statistic of each permutation
        (AD values from the fast path carry a relative rounding error up to ~1e-9; the
        comparisons that give ``pvalue`` are exact, see :func:`permutation_test`).
    pvalue_p05 : ndarray or None
        Bootstrap only: 5th percentile of the B resampled p-values.
    pvalues : ndarray or None
        Bootstrap only, shape ``(B, *columns)``: the p-value of each resample.
    pvalue_method : str
        How a single p-value is computed inside the bootstrap (e.g. ``"ks asymp (scipy)"``),
        or the comparison rule of the permutation test.
    """

    __test__ = False  # not a pytest test class

    statistic: np.ndarray
    pvalue: np.ndarray
    method: str
    n_resamples: int
    null_distribution: np.ndarray | None = None
    pvalue_p05: np.ndarray | None = None
    pvalues: np.ndarray | None = None
    pvalue_method: str = ""

    def fraction_above(self, thresholds: Sequence[float] = (0.99, 0.95, 0.8)) -> dict[float, float]:
        """Fraction of columns whose ``pvalue`` exceeds each threshold (the paper's summary)."""
        p = np.ravel(self.pvalue)
        return {float(t): float(np.mean(p > t)) if p.size else float("nan") for t in thresholds}


@dataclass
class ResamplingResult(Mapping):
    """Mapping test name (``"ks"``, ``"ad"``) -> :class:`TestResult`, plus the settings.

    Attributes
    ----------
    method : str
        ``"permutation"`` or ``"bootstrap"``.
    n_resamples : int
        B.
    n_a, n_b : int
        Sample sizes.
    info : dict
        Diagnostics: ``batch`` used and, for permutations, ``n_dense_rechecks`` (AD
        permutations whose fast value lay within its rounding bound of the threshold).
    """

    results: dict[str, TestResult]
    method: str
    n_resamples: int
    n_a: int
    n_b: int
    info: dict = field(default_factory=dict)

    def __getitem__(self, key: str) -> TestResult:
        return self.results[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


def _resampling_iv(tests, n_resamples, batch, per_resample: int) -> tuple[tuple[str, ...], int]:
    if isinstance(tests, str):
        tests = (tests,)
    tests = tuple(tests)
    unknown = [t for t in tests if t not in _TESTS]
    if unknown or not tests:
        raise InputError(f"tests must be a non-empty subset of {_TESTS}; got {tests!r}")
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise InputError(f"n_resamples must be a positive integer; got {n_resamples!r}")
    if batch is None:
        batch = max(1, min(int(n_resamples), _BATCH_BYTES // (8 * max(per_resample, 1))))
    elif int(batch) != batch or batch < 1:
        raise InputError(f"batch must be a positive integer or None; got {batch!r}")
    return tests, int(batch)


def permutation_test(
    a: ArrayLike,
    b: ArrayLike,
    *,
    axis: int = 0,
    tests: Sequence[str] = _TESTS,
    n_resamples: int = N_RESAMPLES,
    rng: int | np.random.Generator | None = None,
    batch: int | None = None,
    keep_null: bool = True,
) -> ResamplingResult:
    """Permutation KS and AD tests of every column, with permutations shared by all.

    Parameters
    ----------
    a : array_like, shape (n_a, ...) along ``axis``
        First sample.
    b : array_like, shape (n_b, ...) along ``axis``
        Second sample; every axis but ``axis`` must match ``a``.
    axis : int, default 0
        The sample axis.
    tests : sequence of {"ks", "ad"}, default ("ks", "ad")
        Tests to run; all use the same permutations.
    n_resamples : int, default 1000
        Number of permutations B.
    rng : int, numpy.random.Generator or None
        Seed or Generator. Permutation ``r`` is ``rng.permutation(n_a + n_b)``: its first
        ``n_a`` entries index the pooled observations (a then b) relabelled as *a*.
    batch : int or None
        Permutations per kernel call (memory only; results do not depend on it).
    keep_null : bool, default True
        Keep each test's null distribution, shape ``(B, *columns)``.

    Returns
    -------
    ResamplingResult
        ``result["ks"]``, ``result["ad"]``: :class:`TestResult` with ``statistic``,
        ``pvalue``, ``null_distribution``, ``method="permutation"``, ``n_resamples``.

    Notes
    -----
    ``p = (1 + #{T_perm >= T_obs}) / (B + 1)`` (SciPy's ``permutation_test`` with
    ``alternative="greater"``), calibrated under the null. KS is compared on the exact
    integer numerator of ``D``; AD on ``A2kN`` with SciPy's tolerance
    ``A2_perm >= A2_obs - 100 eps A2_obs``. ``A2kN`` of a permutation is computed in
    O(min(n_a, n_b)) from suffix-sum tables with a rigorous rounding bound; a value within
    that bound of the threshold is recomputed with the reference arithmetic, so every
    decision equals the one a direct evaluation makes. A column whose pooled values are
    all equal gets p = 1 (AD statistic NaN).
    """
    data = two_sample_iv(a, b, axis)
    m, offset, marks_b = smaller_sample(data)
    tests, batch = _resampling_iv(tests, n_resamples, batch, data.n)
    gen = resolve_rng(rng)
    srt = presort(data)
    d_obs, a2_obs = observed(data, srt)
    scale = float(data.n_a) * float(data.n_b)
    # SciPy's permutation_test: T_perm >= T_obs - 100 eps |T_obs| (on A2kN, as its AD does)
    a2_thr = a2_obs - 100 * np.finfo(np.float64).eps * np.abs(a2_obs)
    ad_thr_unscaled = a2_thr * scale

    from lensval._kernels.gof import permutation_stats

    n_cols = data.n_cols
    ks_count = np.zeros(n_cols, dtype=np.int64)
    ad_count = np.zeros(n_cols, dtype=np.int64)
    null_ks = np.empty((n_resamples, n_cols), dtype=np.int64) if keep_null else None
    null_ad = np.empty((n_resamples, n_cols), dtype=np.float64) if keep_null else None
    n_dense = 0
    for start in range(0, n_resamples, batch):
        stop = min(start + batch, n_resamples)
        marks = np.empty((stop - start, m), dtype=np.int64)
        for r in range(stop - start):
            perm = gen.permutation(data.n)
            marks[r] = perm[data.n_a :] if marks_b else perm[: data.n_a]
        d_int = np.empty((stop - start, n_cols), dtype=np.int64)
        a2 = np.empty((stop - start, n_cols), dtype=np.float64)
        dense = np.zeros(n_cols, dtype=np.int64)
        if n_cols:
            permutation_stats(
                marks, srt.rank, srt.run_start, srt.run_stop, srt.w, srt.r0, srt.r1, srt.w2,
                ad_thr_unscaled, d_int, a2, dense,
            )  # fmt: skip
        n_dense += int(dense.sum())
        ks_count += (d_int >= d_obs).sum(axis=0)
        ad_count += (a2 >= ad_thr_unscaled).sum(axis=0)
        if keep_null:
            null_ks[start:stop] = d_int
            null_ad[start:stop] = a2

    results: dict[str, TestResult] = {}
    degenerate = srt.run_stop[:, 0] == data.n
    for name in tests:
        count = ks_count if name == "ks" else ad_count
        p = (count + 1.0) / (n_resamples + 1.0)
        if name == "ks":
            stat = ks_statistic(d_obs, data.n_a, data.n_b, "asymp")
            null = None if null_ks is None else ks_statistic(null_ks, data.n_a, data.n_b, "asymp")
            rule = "D_perm >= D_obs (exact integers)"
        else:
            stat = standardise(a2_obs, data.n_a, data.n_b, "exact", degenerate)
            null = None
            if null_ad is not None:
                null = standardise(null_ad / scale, data.n_a, data.n_b, "exact")
            rule = "A2_perm >= A2_obs - 100 eps A2_obs"
        results[name] = TestResult(
            statistic=data.reshape(stat),
            pvalue=data.reshape(p),
            method="permutation",
            n_resamples=int(n_resamples),
            null_distribution=None if null is None else data.reshape(null),
            pvalue_method=rule,
        )
    return ResamplingResult(
        results, "permutation", int(n_resamples), data.n_a, data.n_b,
        info={"n_dense_rechecks": n_dense, "batch": batch},
    )  # fmt: skip


def bootstrap_test(
    a: ArrayLike,
    b: ArrayLike,
    *,
    axis: int = 0,
    tests: Sequence[str] = _TESTS,
    n_resamples: int = N_RESAMPLES,
    rng: int | np.random.Generator | None = None,
    batch: int | None = None,
    mode: str = "scipy",
    ks_method: str = "asymp",
    keep_pvalues: bool = False,
) -> ResamplingResult:
    """The paper's "bootstrapped" KS and AD p-values, every column at once.

    Each of B resamples draws ``n_a`` observations of *a* and ``n_b`` of *b* with
    replacement; the test's ordinary p-value is computed on each, and the median and
    5th percentile over the B resamples are reported.

    Parameters
    ----------
    a : array_like, shape (n_a, ...) along ``axis``
        First sample.
    b : array_like, shape (n_b, ...) along ``axis``
        Second sample; every axis but ``axis`` must match ``a``.
    axis : int, default 0
        The sample axis.
    tests : sequence of {"ks", "ad"}, default ("ks", "ad")
        Tests to run; all use the same resamples.
    n_resamples : int, default 1000
        Number of resamples B.
    rng : int, numpy.random.Generator or None
        Seed or Generator. Resample ``r`` draws ``rng.integers(0, n_a, n_a)`` (indices into
        *a*) then ``rng.integers(0, n_b, n_b)`` (indices into *b*), shared by all columns.
    batch : int or None
        Resamples per kernel call (memory only; results do not depend on it).
    mode : {"scipy", "root"}, default "scipy"
        Single-resample p-values. ``"scipy"``: KS as ``scipy.stats.ks_2samp(method=
        ks_method)``, AD as ``scipy.stats.anderson_ksamp(variant="right")`` (capped to
        [0.001, 0.25]). ``"root"``: KS ``kolmogorov(sqrt(n_a n_b/(n_a+n_b)) D)``, AD
        ROOT's ``GoFTest`` (asymptotic ``sigma_N`` for N >= 2000, table p-value).
    ks_method : {"asymp", "exact", "auto"}, default "asymp"
        KS p-value method in ``mode="scipy"``. The default is SciPy's asymptotic
        ``kstwo.sf(D, round(n_a n_b / (n_a + n_b)))``; exact p-values are cached per
        distinct D but cost up to ~10 ms each at n ~ 10^4.
    keep_pvalues : bool, default False
        Keep the ``(B, *columns)`` matrix of resampled p-values in ``TestResult.pvalues``.

    Returns
    -------
    ResamplingResult
        ``result[name]``: :class:`TestResult` with ``statistic`` (observed),
        ``pvalue`` (median of the B p-values), ``pvalue_p05`` (5th percentile),
        ``method="bootstrap"``, ``pvalue_method``.

    Notes
    -----
    These are not calibrated p-values: under the null the median bootstrapped p-value is
    biased towards small values relative to uniform (resampling with replacement adds
    ties and noise). Use :func:`permutation_test` for a calibrated test; this function
    reproduces what the CosmoGAN paper reports.
    """
    if mode not in ("scipy", "root"):
        raise InputError(f"mode must be 'scipy' or 'root'; got {mode!r}")
    if ks_method not in ("asymp", "exact", "auto"):
        raise InputError(f"ks_method must be 'asymp', 'exact' or 'auto'; got {ks_method!r}")
    data = two_sample_iv(a, b, axis)
    tests, batch = _resampling_iv(tests, n_resamples, batch, data.n // 2 + 1)
    gen = resolve_rng(rng)
    srt = presort(data)
    d_obs, a2_obs = observed(data, srt)

    from lensval._kernels.gof import bootstrap_stats

    method = "asymp" if mode == "root" else _resolve_method(ks_method, data.n_a, data.n_b)
    variant = "root" if mode == "root" else "exact"
    scale = float(data.n_a) * float(data.n_b)
    n_cols = data.n_cols
    bb = np.arange(1, data.n, dtype=np.float64)
    inv_bb = np.zeros(data.n + 1)
    inv_bb[1 : data.n] = 1.0 / (bb * (data.n - bb))
    d_all = np.empty((n_resamples, n_cols), dtype=np.int64)
    a2_all = np.empty((n_resamples, n_cols), dtype=np.float64)
    for start in range(0, n_resamples, batch):
        stop = min(start + batch, n_resamples)
        counts = np.empty((stop - start, data.n), dtype=np.int32)
        for r in range(stop - start):
            ia = gen.integers(0, data.n_a, data.n_a)
            ib = gen.integers(0, data.n_b, data.n_b)
            counts[r, : data.n_a] = np.bincount(ia, minlength=data.n_a)
            counts[r, data.n_a :] = np.bincount(ib, minlength=data.n_b)
        if n_cols:
            bootstrap_stats(
                srt.order, srt.run_stop, counts, data.n_a, inv_bb,
                d_all[start:stop], a2_all[start:stop],
            )  # fmt: skip
    # p-values once at the end: KS p-values are cached per distinct D over all resamples
    p_ks = p_ad = None
    if "ks" in tests:
        p_ks, method = ks_pvalue(d_all, data.n_a, data.n_b, method, mode)
    if "ad" in tests:
        # a2 is NaN for a resample holding one distinct value (SciPy raises there)
        p_ad = ad_pvalue(standardise(a2_all / scale, data.n_a, data.n_b, variant), variant)[0]

    results: dict[str, TestResult] = {}
    degenerate = srt.run_stop[:, 0] == data.n  # one distinct pooled value: no AD
    for name in tests:
        if name == "ks":
            pv = p_ks
            stat = ks_statistic(d_obs, data.n_a, data.n_b, method)
            how = f"ks {method} ({mode})"
        else:
            pv = p_ad
            stat = standardise(a2_obs, data.n_a, data.n_b, variant, degenerate)
            how = "ad " + ("ROOT GoFTest table" if mode == "root" else "scipy capped [0.001, 0.25]")
        with warnings.catch_warnings():
            # all-NaN only for columns whose resamples hold a single distinct value
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(pv, axis=0)
            p05 = np.nanpercentile(pv, 5, axis=0)
        results[name] = TestResult(
            statistic=data.reshape(stat),
            pvalue=data.reshape(med),
            method="bootstrap",
            n_resamples=int(n_resamples),
            pvalue_p05=data.reshape(p05),
            pvalues=data.reshape(pv) if keep_pvalues else None,
            pvalue_method=how,
        )
    return ResamplingResult(
        results, "bootstrap", int(n_resamples), data.n_a, data.n_b, info={"batch": batch}
    )
