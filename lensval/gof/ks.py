"""Two-sample Kolmogorov-Smirnov test, column-wise (SciPy- and ROOT-compatible p-values)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from lensval.errors import InputError
from lensval.gof._core import dense, two_sample_iv

__all__ = ["KSResult", "ks_2samp"]

# SciPy's ks_2samp: method="auto" is exact when max(n_a, n_b) <= this.
_MAX_AUTO_N = 10000


@dataclass
class KSResult:
    """Result of :func:`ks_2samp`, one entry per column.

    Attributes
    ----------
    statistic : ndarray or float
        Two-sided statistic ``D = max |F_a - F_b|``.
    pvalue : ndarray or float
        Two-sided p-value (see ``method`` and ``mode``).
    statistic_location : ndarray or float
        Value of the pooled data at which ``D`` is attained (SciPy's rule).
    statistic_sign : ndarray or int
        ``+1`` if ``D = max(F_a - F_b)``, ``-1`` if ``D = max(F_b - F_a)``.
    method : str
        p-value method actually used: ``"exact"`` or ``"asymp"`` (``"asymp"`` for
        ``mode="root"``).
    mode : str
        ``"scipy"`` or ``"root"``.
    """

    statistic: np.ndarray
    pvalue: np.ndarray
    statistic_location: np.ndarray
    statistic_sign: np.ndarray
    method: str
    mode: str


def _resolve_method(method: str, n_a: int, n_b: int) -> str:
    if method not in ("auto", "exact", "asymp"):
        raise InputError(f"method must be 'auto', 'exact' or 'asymp'; got {method!r}")
    if method == "auto":
        return "exact" if max(n_a, n_b) <= _MAX_AUTO_N else "asymp"
    if method == "exact":
        g = math.gcd(n_a, n_b)
        if n_a // g >= np.iinfo(np.int32).max / (n_b // g):  # SciPy's limit on lcm
            warnings.warn(
                f"Exact ks_2samp calculation not possible with samples sizes {n_a} and "
                f"{n_b}. Switching to 'asymp'.",
                RuntimeWarning,
                stacklevel=3,
            )
            return "asymp"
    return method


@lru_cache(maxsize=8192)
def _exact_sf(n_a: int, n_b: int, h: int) -> float:
    """SciPy's exact two-sided p-value of ``D = h / lcm(n_a, n_b)`` (NaN if it fails).

    Cached: columns of one comparison share ``(n_a, n_b)`` and often ``h``.
    """
    from scipy.stats._stats_py import _attempt_exact_2kssamp

    g = math.gcd(n_a, n_b)
    lcm = (n_a // g) * n_b
    ok, _, prob = _attempt_exact_2kssamp(n_a, n_b, g, h / lcm, "two-sided")
    return float(np.clip(prob, 0.0, 1.0)) if ok else math.nan


def ks_statistic(d_int: np.ndarray, n_a: int, n_b: int, method: str) -> np.ndarray:
    """``D`` from the integer numerator ``max |k_a n_b - k_b n_a|``, as SciPy reports it.

    In the exact method SciPy rounds ``D`` to ``h / lcm(n_a, n_b)``; we reproduce that.
    """
    d_int = np.asarray(d_int, dtype=np.int64)
    if method == "exact":
        g = math.gcd(n_a, n_b)
        lcm = (n_a // g) * n_b
        return (d_int // g) * 1.0 / lcm
    return d_int / (float(n_a) * float(n_b))


def ks_pvalue(
    d_int: np.ndarray, n_a: int, n_b: int, method: str, mode: str = "scipy"
) -> tuple[np.ndarray, str]:
    """Two-sided p-values from KS numerators (any shape); returns ``(p, method_used)``.

    ``mode="scipy"``: ``method="exact"`` uses SciPy's exact algorithm (cached per distinct
    D), ``"asymp"`` SciPy's ``kstwo.sf(D, round(n_a n_b / (n_a + n_b)))``.
    ``mode="root"``: ``kolmogorov(sqrt(n_a n_b / (n_a + n_b)) D)`` (ROOT
    ``TMath::KolmogorovTest``).
    """
    from scipy import special, stats

    d_int = np.asarray(d_int, dtype=np.int64)
    uniq, inverse = np.unique(d_int, return_inverse=True)
    en = (float(n_a) * float(n_b)) / (float(n_a) + float(n_b))
    if mode == "root":
        d = uniq / (float(n_a) * float(n_b))
        p = special.kolmogorov(math.sqrt(en) * d)
        return np.clip(p, 0.0, 1.0)[inverse].reshape(d_int.shape), "asymp"
    d = ks_statistic(uniq, n_a, n_b, method)
    if method == "exact":
        g = math.gcd(n_a, n_b)
        p = np.array([_exact_sf(n_a, n_b, int(h)) for h in uniq // g], dtype=np.float64)
        failed = np.isnan(p)
        if failed.any():
            warnings.warn(
                "ks_2samp: Exact calculation unsuccessful. Switching to method=asymp.",
                RuntimeWarning,
                stacklevel=3,
            )
            d_asymp = uniq[failed] / (float(n_a) * float(n_b))
            p[failed] = stats.kstwo.sf(d_asymp, np.round(en))
            method = "asymp" if failed.all() else "exact"
    else:
        with np.errstate(divide="ignore", invalid="ignore"):  # n_a = n_b = 1: NaN, as SciPy
            p = stats.kstwo.sf(d, np.round(en))
    return np.clip(p, 0.0, 1.0)[inverse].reshape(d_int.shape), method


def ks_2samp(
    a: ArrayLike,
    b: ArrayLike,
    axis: int = 0,
    method: str = "auto",
    mode: str = "scipy",
) -> KSResult:
    """Two-sided two-sample Kolmogorov-Smirnov test of every column at once.

    Parameters
    ----------
    a : array_like, shape (n_a, ...) along ``axis``
        First sample (e.g. validation features, one column per feature).
    b : array_like, shape (n_b, ...) along ``axis``
        Second sample; every axis but ``axis`` must match ``a``.
    axis : int, default 0
        The sample axis.
    method : {"auto", "exact", "asymp"}, default "auto"
        p-value method, as in :func:`scipy.stats.ks_2samp`: ``"auto"`` is exact when
        ``max(n_a, n_b) <= 10000``.
    mode : {"scipy", "root"}, default "scipy"
        ``"scipy"`` reproduces ``scipy.stats.ks_2samp(a, b, method=method)``;
        ``"root"`` gives ROOT's asymptotic ``TMath::KolmogorovTest`` p-value
        ``kolmogorov(sqrt(n_a n_b / (n_a + n_b)) D)`` (``method`` is ignored).

    Returns
    -------
    KSResult
        ``statistic``, ``pvalue``, ``statistic_location``, ``statistic_sign``: arrays of
        the shape of the non-sample axes (scalars for 1-D input); ``method``, ``mode``.

    Raises
    ------
    InputError
        Empty samples, NaN values, or shapes that disagree.

    Notes
    -----
    Each pooled column is sorted once; ``D`` is computed in exact integer arithmetic
    (numerator ``max |k_a n_b - k_b n_a|`` over the last position of each run of equal
    values), so ties are handled as SciPy handles them. Exact p-values call SciPy's own
    algorithm once per distinct ``D`` (columns sharing ``D`` reuse it). Where the maximum
    is attained at several values, ``statistic_location`` follows SciPy's rule on exact
    integers, so it may differ from SciPy's when rounding breaks a tie there.

    Examples
    --------
    >>> import numpy as np, lensval as lv
    >>> rng = np.random.default_rng(0)
    >>> res = lv.ks_2samp(rng.normal(size=(500, 3)), rng.normal(size=(400, 3)))
    >>> res.statistic.shape
    (3,)
    """
    if mode not in ("scipy", "root"):
        raise InputError(f"mode must be 'scipy' or 'root'; got {mode!r}")
    data = two_sample_iv(a, b, axis)
    method = "asymp" if mode == "root" else _resolve_method(method, data.n_a, data.n_b)
    d_int, sign, loc, _ = dense(data)
    p, used = ks_pvalue(d_int, data.n_a, data.n_b, method, mode)
    stat = ks_statistic(d_int, data.n_a, data.n_b, used if mode == "scipy" else "asymp")
    return KSResult(
        statistic=data.reshape(stat),
        pvalue=data.reshape(p),
        statistic_location=data.reshape(loc),
        statistic_sign=data.reshape(sign),
        method=used,
        mode=mode,
    )
