"""Per-map moments: numpy-exact mean and standard deviation, skewness, kurtosis.

The Minkowski thresholds are ``nu * sigma`` with ``sigma = map.std()`` (LensTools), so
sigma must be bit-identical to NumPy's. NumPy reduces a contiguous float64 array with
pairwise summation (blocks of 128 unrolled by 8, split in halves above that) starting
from the identity 0.0; :func:`pairwise_sum` replays that order exactly, which is four
times cheaper than calling ``np.std`` per map. ``lensval.stats`` checks the
equivalence once per process and falls back to NumPy if a NumPy release changes it.
"""

from __future__ import annotations

import numpy as np

from lensval._kernels._jit import jit

_BLOCK = 128  # numpy's PW_BLOCKSIZE


@jit(inline="always")  # inlined: the square/shift branch folds away in each caller
def _term(a, i, shift, square):
    if square:
        v = a[i] - shift
        return v * v
    return a[i]


@jit(inline="always")  # inlined into pairwise_sum, like numpy's macro-expanded block sum
def _leaf_sum(a, lo, n, shift, square):
    """numpy's sum of a block of at most 128 terms (eight interleaved accumulators)."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += _term(a, i, shift, square)
        return res
    r0 = _term(a, lo, shift, square)
    r1 = _term(a, lo + 1, shift, square)
    r2 = _term(a, lo + 2, shift, square)
    r3 = _term(a, lo + 3, shift, square)
    r4 = _term(a, lo + 4, shift, square)
    r5 = _term(a, lo + 5, shift, square)
    r6 = _term(a, lo + 6, shift, square)
    r7 = _term(a, lo + 7, shift, square)
    i = 8
    stop = n - (n % 8)
    while i < stop:
        k = lo + i
        r0 += _term(a, k, shift, square)
        r1 += _term(a, k + 1, shift, square)
        r2 += _term(a, k + 2, shift, square)
        r3 += _term(a, k + 3, shift, square)
        r4 += _term(a, k + 4, shift, square)
        r5 += _term(a, k + 5, shift, square)
        r6 += _term(a, k + 6, shift, square)
        r7 += _term(a, k + 7, shift, square)
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += _term(a, lo + i, shift, square)
        i += 1
    return res


@jit()
def pairwise_sum(a, lo, n, shift, square):
    """NumPy's pairwise sum of ``a[lo:lo+n]`` (1-d float64), optionally of ``(a - shift)**2``.

    NumPy recurses (``sum(left half) + sum(right half)``, halves rounded down to a
    multiple of 8, blocks of <= 128 summed by :func:`_leaf_sum`). The recursion is
    replayed with an explicit stack because numba's on-disk cache of a recursive
    function crashes when it is loaded again.
    """
    if n <= _BLOCK:
        return _leaf_sum(a, lo, n, shift, square)
    lo_s = np.empty(64, np.int64)
    n_s = np.empty(64, np.int64)
    stage = np.empty(64, np.int64)
    left = np.empty(64)
    sp = 0
    lo_s[0] = lo
    n_s[0] = n
    stage[0] = 0
    ret = 0.0
    while sp >= 0:
        cl = lo_s[sp]
        cn = n_s[sp]
        if cn <= _BLOCK:
            ret = _leaf_sum(a, cl, cn, shift, square)
            sp -= 1
            continue
        n2 = cn // 2
        n2 -= n2 % 8
        st = stage[sp]
        if st == 0:  # descend into the left half
            stage[sp] = 1
            sp += 1
            lo_s[sp] = cl
            n_s[sp] = n2
            stage[sp] = 0
        elif st == 1:  # left half done: keep it, descend into the right half
            left[sp] = ret
            stage[sp] = 2
            sp += 1
            lo_s[sp] = cl + n2
            n_s[sp] = cn - n2
            stage[sp] = 0
        else:  # both halves done
            ret = left[sp] + ret
            sp -= 1
    return ret


@jit()
def mean_std(flat):
    """``(flat.mean(), flat.std())`` with NumPy's summation order (ddof=0)."""
    n = flat.size
    mean = (0.0 + pairwise_sum(flat, 0, n, 0.0, False)) / n
    var = (0.0 + pairwise_sum(flat, 0, n, mean, True)) / n
    return mean, np.sqrt(var)


@jit()
def sigma_batch(maps, out):
    """``out[i] = maps[i].std()`` for ``maps`` of shape (k, N, N), C-contiguous float64."""
    for i in range(maps.shape[0]):
        out[i] = mean_std(maps[i].ravel())[1]


# Reassociation (no FMA contraction) lets LLVM vectorise these sums: the third and
# fourth moments need only agree with SciPy to rounding; mean and std stay exact.
@jit(fastmath={"reassoc"})
def _central_sums(flat, mean):
    """``sum((x - mean)**k)`` for k = 2, 3, 4."""
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    for p in range(flat.size):
        d = flat[p] - mean
        d2 = d * d
        s2 += d2
        s3 += d2 * d
        s4 += d2 * d2
    return s2, s3, s4


@jit()
def moments_batch(maps, out):
    """Mean, std, skewness and excess kurtosis (ddof=0) of each map.

    ``out`` has shape (k, 4). Mean and std are NumPy-exact; the third and fourth
    central moments agree with SciPy to rounding. A constant map has skewness and
    kurtosis NaN, as in SciPy.
    """
    for i in range(maps.shape[0]):
        flat = maps[i].ravel()
        n = flat.size
        mean, std = mean_std(flat)
        s2, s3, s4 = _central_sums(flat, mean)
        m2 = s2 / n
        m3 = s3 / n
        m4 = s4 / n
        out[i, 0] = mean
        out[i, 1] = std
        if m2 > 0.0:
            out[i, 2] = m3 / m2**1.5
            out[i, 3] = m4 / (m2 * m2) - 3.0
        else:
            out[i, 2] = np.nan
            out[i, 3] = np.nan
