"""Peak counts: pixels strictly above their 8 neighbours (LensTools ``peak_count``).

LensTools stores the centre pixel in a C ``float`` before comparing it with its
(double) neighbours; ``float32_centre=True`` reproduces that for tests only. lensval's
default compares in float64.
"""

from __future__ import annotations

import numpy as np

from lensval._kernels._bins import count_le_row, make_locator, n_cells_for
from lensval._kernels._jit import jit
from lensval._kernels.minkowski import wrap_pad


@jit()
def peak_count_batch(maps, sigma, nu, border, float32_centre, counts):
    """Count the peaks of each map in threshold bins ``[nu[i] sigma, nu[i+1] sigma)``.

    Parameters
    ----------
    maps : (k, N, N) float64
    sigma : (k,) float64
        Threshold unit per map (std, or 1.0 for kappa units).
    nu : (nbins + 1,) float64, strictly increasing
    border : int
        0: periodic neighbours; 1: the outermost pixels cannot be peaks (non-periodic).
    float32_centre : bool
        Round the centre pixel to float32 before comparing (LensTools' quirk).
    counts : (k, nbins) int64
        Output.
    """
    k, n, _ = maps.shape
    nb = nu.shape[0] - 1
    stride = n + 2
    af = np.empty(stride * stride)
    a = af.reshape((stride, stride))
    cf = np.empty(stride * stride) if float32_centre else af  # centre values compared
    th = np.empty(nb + 1)
    ext = np.empty(nb + 3)
    table = np.empty(n_cells_for(nu), np.int64)
    w = n - 2 * border
    flags = np.empty(w, np.uint8)
    heights = np.empty(n * n)
    idx = np.empty(n * n, np.int64)
    for m in range(k):
        for i in range(nb + 1):
            th[i] = nu[i] * sigma[m]
        lo, inv = make_locator(th, ext, table)
        wrap_pad(maps[m], 1, a)
        if float32_centre:
            for p in range(af.shape[0]):
                cf[p] = np.float64(np.float32(af[p]))
        found = 0
        for yy in range(border, n - border):
            start = (yy + 1) * stride + border + 1
            _peak_flags_row(af, cf, start, stride, flags)
            for i in range(w):  # branch-free compaction of the peak heights
                heights[found] = af[start + i]
                found += flags[i]
        count_le_row(ext, lo, inv, table, heights[:found], idx[:found])
        c = counts[m]
        c[:] = 0
        for i in range(found):
            b = idx[i] - 1  # th[b] <= v < th[b + 1]
            if 0 <= b < nb:
                c[b] += 1


@jit()
def _peak_flags_row(af, cf, start, stride, flags):
    """``flags[i]`` = 1 if ``cf[start + i]`` > its 8 neighbours in ``af`` (flat, padded).

    All eight tests without short-circuit and unsigned indices: LLVM vectorises it.
    """
    w = np.uint64(stride)
    one = np.uint64(1)
    s0 = np.uint64(start)
    for i in range(flags.shape[0]):
        p = s0 + np.uint64(i)
        c = cf[p]
        flags[i] = ((c > af[p - one]) & (c > af[p + one]) & (c > af[p - w - one])
                    & (c > af[p - w]) & (c > af[p - w + one]) & (c > af[p + w - one])
                    & (c > af[p + w]) & (c > af[p + w + one]))


@jit()
def repeated_sum(counts, step, out):
    """``out[m, i]`` = ``step[i]`` added ``counts[m, i]`` times to 0.0.

    LensTools accumulates ``1 / width`` once per peak; replaying the additions keeps
    its differential counts bit-identical.
    """
    for m in range(counts.shape[0]):
        for i in range(counts.shape[1]):
            acc = 0.0
            for _ in range(counts[m, i]):
                acc += step[i]
            out[m, i] = acc
