"""Distances between two ensembles: histogram chi-squared and correlation matrices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from lensval.errors import InputError
from lensval.gof._core import two_sample_iv

__all__ = ["chi2_distance", "CorrelationComparison", "compare_correlations"]

#: Default number of histogram bins per column for :func:`chi2_distance`.
CHI2_BINS = 20


def chi2_distance(
    a: ArrayLike,
    b: ArrayLike,
    *,
    axis: int = 0,
    bins: int | ArrayLike | None = None,
    log: bool = True,
    reduce: str | None = "sum",
) -> float | np.ndarray:
    """Chi-squared distance between the per-column histograms of two ensembles.

    The checkpoint-selection metric of the CosmoGAN paper (Sect. 2.3): the distance
    between the power-spectrum histograms of a generated set and a development subset of
    the validation set, smaller is better.

    Parameters
    ----------
    a : array_like, shape (n_a, ...) along ``axis``
        First ensemble, e.g. power spectra ``P[sample, ell]`` of generated maps.
    b : array_like, shape (n_b, ...) along ``axis``
        Second ensemble; every axis but ``axis`` must match ``a``.
    axis : int, default 0
        The sample axis.
    bins : int, array_like or None
        ``None`` or an int ``K`` (default ``K = 20``): per column, ``K`` equal-width bins
        spanning the pooled minimum to maximum of both ensembles (after ``log10``).
        A 1-D array: the same ``K + 1`` edges for every column; a 2-D array of shape
        ``(n_cols, K + 1)``: edges per column (columns in C order of the non-sample axes).
        Edges apply to the transformed values (``log10`` when ``log``).
    log : bool, default True
        Histogram ``log10`` of the values (power spectra span decades); needs positive
        values.
    reduce : {"sum", "mean", None}, default "sum"
        Sum or average the per-column distances, or return them all.

    Returns
    -------
    float or ndarray
        The distance (``reduce`` given), or per-column distances of the shape of the
        non-sample axes.

    Notes
    -----
    For one column with histograms ``h_a``, ``h_b`` on shared edges (numpy's convention:
    bins ``[e_i, e_{i+1})``, the last one closed; values outside user edges are dropped),
    normalised to unit sum, ``p = h_a / sum(h_a)`` and ``q = h_b / sum(h_b)``,

    ``chi2 = sum_{i: p_i + q_i > 0} (p_i - q_i)^2 / (p_i + q_i)``,

    which lies in ``[0, 2]``: 0 for identical histograms, 2 for disjoint ones. A column
    whose values are all equal gets one bin (distance 0). The distance depends on the
    binning: compare checkpoints only with the same ``bins`` and sample sizes.
    """
    if reduce not in ("sum", "mean", None):
        raise InputError(f"reduce must be 'sum', 'mean' or None; got {reduce!r}")
    data = two_sample_iv(a, b, axis)
    x = data.x
    if log:
        if (x <= 0).any():
            raise InputError("chi2_distance(log=True) needs positive values; pass log=False")
        x = np.log10(x)
    n_cols = data.n_cols
    edges = _edges(x, bins, n_cols)
    dist = np.empty(n_cols, dtype=np.float64)
    for c in range(n_cols):
        ha, _ = np.histogram(x[c, : data.n_a], bins=edges[c])
        hb, _ = np.histogram(x[c, data.n_a :], bins=edges[c])
        sa, sb = ha.sum(), hb.sum()
        if sa == 0 or sb == 0:
            raise InputError(
                f"chi2_distance: column {c} has no values inside the bin edges; widen bins"
            )
        p = ha / sa
        q = hb / sb
        s = p + q
        keep = s > 0
        dist[c] = np.sum((p[keep] - q[keep]) ** 2 / s[keep])
    if reduce == "sum":
        return float(dist.sum())
    if reduce == "mean":
        return float(dist.mean()) if n_cols else float("nan")
    return data.reshape(dist)


def _edges(x: np.ndarray, bins, n_cols: int) -> list[np.ndarray]:
    if bins is None or np.ndim(bins) == 0:
        k = CHI2_BINS if bins is None else int(bins)
        if bins is not None and (k != bins or k < 1):
            raise InputError(f"bins must be a positive integer or an array of edges; got {bins}")
        lo, hi = x.min(axis=1), x.max(axis=1)
        out = []
        for c in range(n_cols):
            if lo[c] == hi[c]:
                out.append(np.array([lo[c] - 0.5, hi[c] + 0.5]))
            else:
                out.append(np.linspace(lo[c], hi[c], k + 1))
        return out
    e = np.asarray(bins, dtype=np.float64)
    if e.ndim == 1:
        e = np.broadcast_to(e, (n_cols, e.size))
    if e.ndim != 2 or e.shape[0] != n_cols or e.shape[1] < 2:
        raise InputError(
            f"bins edges must have shape (K+1,) or (n_cols={n_cols}, K+1); got {np.shape(bins)}"
        )
    if not np.all(np.diff(e, axis=1) > 0):
        raise InputError("bin edges must increase monotonically")
    return list(e)


@dataclass
class CorrelationComparison:
    """Result of :func:`compare_correlations`.

    Attributes
    ----------
    corr_ref, corr_other : ndarray, shape (n_cols, n_cols)
        Pearson correlation matrices across samples (``np.corrcoef(x, rowvar=False)``).
    corr_aux : ndarray or None
        The same for the auxiliary (yardstick) set.
    max_abs_diff, rms_abs_diff : float
        ``max`` and root-mean-square of ``|corr_other - corr_ref|`` over the off-diagonal
        pairs ``i < j``.
    max_abs_diff_aux, rms_abs_diff_aux : float or None
        The same for ``|corr_aux - corr_ref|``: how much two independent sets of the true
        model differ (the paper's yardstick: up to ~7 % vs ~10 % for the GAN).
    ratio_max, ratio_rms : float or None
        ``max_abs_diff / max_abs_diff_aux`` and ``rms_abs_diff / rms_abs_diff_aux``; about
        1 or below means the model is as close as an independent draw.
    """

    corr_ref: np.ndarray
    corr_other: np.ndarray
    corr_aux: np.ndarray | None
    max_abs_diff: float
    rms_abs_diff: float
    max_abs_diff_aux: float | None = None
    rms_abs_diff_aux: float | None = None
    ratio_max: float | None = None
    ratio_rms: float | None = None


def _corr(x, name: str, n_cols: int | None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"{name} must be 2-D (sample, column); got shape {x.shape}")
    if n_cols is not None and x.shape[1] != n_cols:
        raise InputError(f"{name} has {x.shape[1]} columns; expected {n_cols}")
    if x.shape[0] < 2:
        raise InputError(f"{name} needs at least 2 samples for a correlation matrix")
    if not np.isfinite(x).all():
        raise InputError(f"{name} contains NaN or inf; mask those columns first")
    const = np.flatnonzero(np.ptp(x, axis=0) == 0)
    if const.size:
        raise InputError(
            f"{name} has constant columns {const[:5].tolist()}; mask empty modes first"
        )
    return np.corrcoef(x, rowvar=False)


def _diff_stats(c1: np.ndarray, c2: np.ndarray) -> tuple[float, float]:
    iu = np.triu_indices(c1.shape[0], k=1)
    d = np.abs(c1 - c2)[iu]
    if d.size == 0:
        return 0.0, 0.0
    return float(d.max()), float(np.sqrt(np.mean(d**2)))


def compare_correlations(
    ref: ArrayLike, other: ArrayLike, aux: ArrayLike | None = None
) -> CorrelationComparison:
    """Compare the correlation matrices of two ensembles, with an optional yardstick.

    Parameters
    ----------
    ref : array_like, shape (n_ref, n_cols)
        Reference ensemble, e.g. validation power spectra ``P[sample, ell]`` over the
        modes with nonzero counts.
    other : array_like, shape (n_other, n_cols)
        Ensemble under test (e.g. generated maps).
    aux : array_like, shape (n_aux, n_cols), optional
        An independent ensemble of the true model (the paper's auxiliary set): its
        difference from ``ref`` is the yardstick.

    Returns
    -------
    CorrelationComparison
        Matrices, ``max_abs_diff``/``rms_abs_diff`` and, with ``aux``, the yardstick values
        and the ratios ``other / aux``.

    Raises
    ------
    InputError
        Wrong shapes, non-finite values or constant columns (mask empty modes first).
    """
    c_ref = _corr(ref, "ref", None)
    n_cols = c_ref.shape[0]
    c_oth = _corr(other, "other", n_cols)
    mx, rms = _diff_stats(c_oth, c_ref)
    if aux is None:
        return CorrelationComparison(c_ref, c_oth, None, mx, rms)
    c_aux = _corr(aux, "aux", n_cols)
    amx, arms = _diff_stats(c_aux, c_ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        rmax = float(np.float64(mx) / amx)
        rrms = float(np.float64(rms) / arms)
    return CorrelationComparison(c_ref, c_oth, c_aux, mx, rms, amx, arms, rmax, rrms)
