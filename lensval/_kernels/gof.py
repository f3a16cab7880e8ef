"""Numba kernels for the column-wise two-sample tests (KS and Anderson-Darling, k = 2).

Conventions shared by every kernel
----------------------------------
* ``x`` is the pooled data, shape ``(n_cols, n)``: observations ``0 .. n_a - 1`` are
  sample *a*, the rest sample *b*.  Each column is sorted once (:func:`prepare_columns`);
  afterwards a relabelling (permutation) or a resample (counts) is evaluated by walking
  sorted positions, never by sorting again.
* Ties: EDFs are evaluated only at the last position ``t`` of each run of equal values
  (``run_stop[t] == t + 1``), which is how SciPy's ``searchsorted(..., 'right')`` sees them.
* For a marked sample S of size ``m`` (the smaller sample of a permutation) and the pooled
  size ``n``, the integer ``X(t) = k_S(t) * n - (t + 1) * m`` (``k_S(t)``: marked positions
  ``<= t``) gives both statistics exactly:

  - KS: ``D = max_t |X(t)| / (m * (n - m))`` over run ends (an integer numerator, so equal D
    compare equal);
  - AD: ``A2kN = sum_t w_t X(t)^2 / (n_a n_b)`` over run ends ``t < n - 1``, with
    ``w_t = l_t / ((t + 1) (n - t - 1))`` and ``l_t`` the run length (Scholz & Stephens 1987,
    eq. 6, specialised to k = 2).

* Random draws are never made here: permutations/counts arrive as arrays.
* Parallel kernels use ``prange`` over columns; each iteration writes only its own column.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from lensval._kernels._jit import jit

_EPS = np.finfo(np.float64).eps

# De Bruijn table: index of the lowest set bit of a uint64 in O(1) without a ctz intrinsic.
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_TABLE = np.zeros(64, dtype=np.int64)
for _i in range(64):
    _DEBRUIJN_TABLE[(((1 << _i) * int(_DEBRUIJN)) & 0xFFFFFFFFFFFFFFFF) >> 58] = _i
del _i


@jit(parallel=True)
def prepare_columns(x, order, rank, run_start, run_stop, w, r0, r1, w2):  # pragma: no cover
    """Build the lookup tables of the fast statistics from each column's sort order.

    Parameters
    ----------
    x : (n_cols, n) float64
        Pooled data.
    order : (n_cols, n) int32
        ``order[c, t]``: observation at sorted position ``t`` (``np.argsort(x, axis=1)``,
        whose SIMD sort is much faster than a sort compiled here).
    rank, run_start, run_stop : (n_cols, n) int32, outputs
        ``rank``: the inverse of ``order``;
        ``[run_start, run_stop)``: the run of equal values containing position ``t``.
    w, r0, r1 : (n_cols, n) float64, outputs
        AD weight at run ends (zero elsewhere and at the last run) and its suffix sums
        ``r0[p] = sum_{t >= p} w_t``, ``r1[p] = sum_{t >= p} w_t (t + 1)``.
    w2 : (n_cols,) float64, output
        ``sum_t w_t (t + 1)^2``.
    """
    n_cols, n = x.shape
    for c in prange(n_cols):
        xc = x[c]
        o = order[c]
        for t in range(n):
            rank[c, o[t]] = t
        s = 0
        while s < n:
            v = xc[o[s]]
            e = s + 1
            while e < n and xc[o[e]] == v:
                e += 1
            for t in range(s, e):
                run_start[c, t] = s
                run_stop[c, t] = e
                w[c, t] = 0.0
            if e < n:
                w[c, e - 1] = (e - s) / (float(e) * float(n - e))
            s = e
        acc0 = 0.0
        acc1 = 0.0
        acc2 = 0.0
        for t in range(n - 1, -1, -1):
            wt = w[c, t]
            acc0 += wt
            acc1 += wt * (t + 1)
            acc2 += wt * (t + 1) * (t + 1)
            r0[c, t] = acc0
            r1[c, t] = acc1
        w2[c] = acc2


@jit()
def _sorted_positions(marks, rank_c, bits, pos):  # pragma: no cover
    """Sorted positions of the marked observations via a bitset (O(m + n / 64))."""
    one = np.uint64(1)
    for i in range(marks.size):
        p = rank_c[marks[i]]
        bits[p >> 6] |= one << np.uint64(p & 63)
    j = 0
    for wi in range(bits.size):
        word = bits[wi]
        if word != 0:
            bits[wi] = np.uint64(0)
            base = wi << 6
            while word != 0:
                low = word & (~word + one)
                pos[j] = base + _DEBRUIJN_TABLE[(low * _DEBRUIJN) >> np.uint64(58)]
                j += 1
                word ^= low


@jit()
def _ks_int(pos, run_start_c, run_stop_c, n):  # pragma: no cover
    """KS numerator ``max_t |X(t)|`` from sorted marked positions (exact integers).

    Positive extremes of X sit at the end of the run holding a marked position,
    negative ones just before the run holding the next marked position; using the
    running count there can only under-state |X| at a run that holds several marked
    positions, and the last of them states it exactly.
    """
    m = pos.size
    best = 0
    for j in range(m):
        p = pos[j]
        hi = (j + 1) * n - np.int64(run_stop_c[p]) * m
        lo = np.int64(run_start_c[p]) * m - j * n
        if hi > best:
            best = hi
        if lo > best:
            best = lo
    return best


@jit()
def _ad_dense(pos, run_stop_c, w_c, n):  # pragma: no cover
    """``sum_t w_t X(t)^2`` walking the runs (the reference arithmetic for AD)."""
    m = pos.size
    acc = 0.0
    j = 0
    s = 0
    while s < n:
        e = np.int64(run_stop_c[s])
        while j < m and pos[j] < e:
            j += 1
        if e < n:
            xx = float(j * n - e * m)
            acc += w_c[e - 1] * (xx * xx)
        s = e
    return acc


@jit()
def _ad_fast(pos, r0_c, r1_c, w2_c, n):  # pragma: no cover
    """``sum_t w_t X(t)^2`` in O(m) from suffix sums, and a rigorous rounding bound.

    ``sum_t w_t k_t^2 = sum_j (2 j + 1) r0[p_j]`` and ``sum_t w_t k_t (t + 1) =
    sum_j r1[p_j]``; all partial sums are of non-negative terms, so the only
    cancellation is in the final three-term combination, bounded by
    ``gamma * (P1 + P2 + P3)``.
    """
    m = pos.size
    s0 = 0.0
    s1 = 0.0
    for j in range(m):
        p = pos[j]
        s0 += (2 * j + 1) * r0_c[p]
        s1 += r1_c[p]
    nf = float(n)
    mf = float(m)
    p1 = nf * nf * s0
    p2 = 2.0 * nf * mf * s1
    p3 = mf * mf * w2_c
    val = p1 - p2 + p3
    err = 2.0 * (n + m + 8) * _EPS * (p1 + p2 + p3)
    return val, err


@jit(parallel=True)
def observed_stats(marks, rank, run_start, run_stop, w, d_int, a2):  # pragma: no cover
    """KS numerator and dense AD sum (unscaled) for one marked set, every column."""
    n_cols, n = rank.shape
    m = marks.size
    nwords = (n + 63) // 64
    for c in prange(n_cols):
        bits = np.zeros(nwords, dtype=np.uint64)
        pos = np.empty(m, dtype=np.int64)
        _sorted_positions(marks, rank[c], bits, pos)
        d_int[c] = _ks_int(pos, run_start[c], run_stop[c], n)
        a2[c] = _ad_dense(pos, run_stop[c], w[c], n)


@jit(parallel=True)
def permutation_stats(
    marks, rank, run_start, run_stop, w, r0, r1, w2, ad_thr, d_int, a2, n_dense
):  # pragma: no cover
    """Statistics of many relabellings of the pooled samples, every column.

    Parameters
    ----------
    marks : (n_perm, m) int64
        Observation indices of the marked (smaller) sample in each permutation, shared by
        all columns.
    ad_thr : (n_cols,) float64
        Decision threshold of the AD comparison on the unscaled sum. A fast value within
        its rounding bound of the threshold is recomputed with :func:`_ad_dense`, so every
        ``a2 >= ad_thr`` decision equals the one the dense arithmetic makes.
    d_int : (n_perm, n_cols) int64, output
        KS numerators.
    a2 : (n_perm, n_cols) float64, output
        Unscaled AD sums ``sum_t w_t X(t)^2``.
    n_dense : (n_cols,) int64, output
        How many permutations needed the dense recheck (diagnostic).
    """
    n_cols, n = rank.shape
    n_perm, m = marks.shape
    nwords = (n + 63) // 64
    for c in prange(n_cols):
        bits = np.zeros(nwords, dtype=np.uint64)
        pos = np.empty(m, dtype=np.int64)
        thr = ad_thr[c]
        # the dense value carries its own rounding error (n terms of one sign)
        dense_rel = 2.0 * (n + 4) * _EPS
        count = 0
        for r in range(n_perm):
            _sorted_positions(marks[r], rank[c], bits, pos)
            d_int[r, c] = _ks_int(pos, run_start[c], run_stop[c], n)
            val, err = _ad_fast(pos, r0[c], r1[c], w2[c], n)
            err += dense_rel * (abs(val) + err)
            if abs(val - thr) <= err:
                val = _ad_dense(pos, run_stop[c], w[c], n)
                count += 1
            a2[r, c] = val
        n_dense[c] = count


@jit(parallel=True)
def dense_stats(x, order, n_a, d_int, sign, loc, a2):  # pragma: no cover
    """KS (signed, SciPy's location rule) and AD of the original labelling, every column.

    One pass over each column's sorted order; needs no lookup tables, so memory stays at
    the data plus its sort order even for millions of observations.

    Parameters
    ----------
    x : (n_cols, n) float64
        Pooled data, sample *a* first.
    order : (n_cols, n) int
        ``np.argsort(x, axis=1)``.
    d_int : (n_cols,) int64, output
        ``max |k_a n_b - k_b n_a|``: the larger of ``max diff`` and ``max -diff`` with
        ``diff = k_a n_b - k_b n_a`` at run ends (ties go to the positive side, as in SciPy).
    sign : (n_cols,) int8, output
        +1 or -1: which side gave ``d_int``.
    loc : (n_cols,) float64, output
        The smallest extremal value whose run holds an observation of *a*, else the
        smallest extremal value (SciPy's ``argmax`` over ``concatenate([a, b])``).
    a2 : (n_cols,) float64, output
        ``A2kN`` (right-continuous EDF).
    """
    n_cols, n = x.shape
    n_b = n - n_a
    for c in prange(n_cols):
        xc = x[c]
        o = order[c]
        ka = 0
        lowest = -(np.int64(n_a) * n_b) - 1
        pmax = lowest
        nmax = lowest
        p_loc = -1
        p_loc_a = -1
        n_loc = -1
        n_loc_a = -1
        acc = 0.0
        s = 0
        while s < n:
            v = xc[o[s]]
            e = s
            has_a = False
            while e < n and xc[o[e]] == v:
                if o[e] < n_a:
                    ka += 1
                    has_a = True
                e += 1
            diff = np.int64(ka) * n_b - np.int64(e - ka) * n_a
            if diff > pmax:
                pmax = diff
                p_loc = e - 1
                p_loc_a = e - 1 if has_a else -1
            elif diff == pmax and has_a and p_loc_a < 0:
                p_loc_a = e - 1
            if -diff > nmax:
                nmax = -diff
                n_loc = e - 1
                n_loc_a = e - 1 if has_a else -1
            elif -diff == nmax and has_a and n_loc_a < 0:
                n_loc_a = e - 1
            if e < n:
                xx = float(np.int64(ka) * n - np.int64(e) * n_a)
                acc += (e - s) * (xx * xx) / (float(e) * float(n - e))
            s = e
        if nmax > pmax:
            d_int[c] = nmax
            sign[c] = -1
            t = n_loc_a if n_loc_a >= 0 else n_loc
        else:
            d_int[c] = pmax
            sign[c] = 1
            t = p_loc_a if p_loc_a >= 0 else p_loc
        loc[c] = xc[o[t]]
        a2[c] = acc / (float(n_a) * float(n_b))


@jit(parallel=True)
def bootstrap_stats(order, run_stop, counts, n_a, inv_bb, d_int, a2):  # pragma: no cover
    """KS numerators and unscaled AD sums of resamples given as multiplicities.

    Parameters
    ----------
    counts : (n_res, n) int32
        Multiplicity of each pooled observation in each resample; a resample of *a* sums
        to ``n_a`` over the first ``n_a`` entries, one of *b* to ``n_b`` over the rest.
    inv_bb : (n + 1,) float64
        ``1 / (B (n - B))`` for ``0 < B < n`` and 0 at ``B = 0, n`` (no division in the
        loop, and values absent from the resample contribute exactly nothing).
    d_int : (n_res, n_cols) int64, output
        ``max |k_a n_b - k_b n_a|`` over the values present in the resample.
    a2 : (n_res, n_cols) float64, output
        ``sum_j l_j X_j^2 / (B_j (n - B_j))`` over present values but the largest,
        ``X_j = k_a n - B_j n_a`` (divide by ``n_a n_b`` for A2kN); NaN for a resample
        holding a single distinct value.

    Notes
    -----
    Run ends of values absent from a resample are evaluated too: ``l = 0`` makes their
    AD term zero and their KS difference repeats the previous one, so the loop needs no
    unpredictable branch.
    """
    n_cols, n = order.shape
    n_res = counts.shape[0]
    n_b = n - n_a
    for c in prange(n_cols):
        o = order[c]
        rs = run_stop[c]
        for r in range(n_res):
            cnt = counts[r]
            ka = 0
            kb = 0
            la = 0
            lb = 0
            best = 0
            acc = 0.0
            n_values = 0
            for t in range(n):
                i = o[t]
                k = cnt[i]
                is_a = i < n_a
                la += k if is_a else 0
                lb += 0 if is_a else k
                if rs[t] == t + 1:
                    ll = la + lb
                    n_values += ll > 0
                    ka += la
                    kb += lb
                    diff = np.int64(ka) * n_b - np.int64(kb) * n_a
                    best = max(best, abs(diff))
                    bb = ka + kb
                    xx = float(np.int64(ka) * n - np.int64(bb) * n_a)
                    acc += ll * (xx * xx) * inv_bb[bb]
                    la = 0
                    lb = 0
            d_int[r, c] = best
            a2[r, c] = acc if n_values > 1 else np.nan
