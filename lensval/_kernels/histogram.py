"""Per-map pixel histograms with ``numpy.histogram``'s bin semantics.

Bin ``i`` holds ``edges[i] <= v < edges[i+1]``, the last bin also ``v == edges[-1]``
(closed on the right, as in NumPy). Values below ``edges[0]`` / above ``edges[-1]``
are counted separately so that nothing is silently lost.
"""

from __future__ import annotations

import numpy as np

from lensval._kernels._bins import count_le_row, make_locator, n_cells_for
from lensval._kernels._jit import jit


@jit()
def _histogram_one(a, edges, ext, lo, inv, table, idx, ext_counts, counts):
    """Count map ``a`` (N, N) into ``counts`` (nbins,); return ``(under, over)``.

    ``ext_counts`` (4, nbins + 2) holds four interleaved histograms: neighbouring pixels
    often share a bin, and one counter would serialise their increments.
    """
    nb = edges.shape[0] - 1
    last = edges[nb]
    ext_counts[:] = 0  # columns: [below, bin 0, ..., bin nb-1, at or above the last edge]
    equal_last = 0
    w = a.shape[1]
    stop = w - w % 4
    for y in range(a.shape[0]):
        row = a[y]
        count_le_row(ext, lo, inv, table, row, idx)
        for x in range(0, stop, 4):
            ext_counts[0, idx[x]] += 1
            ext_counts[1, idx[x + 1]] += 1
            ext_counts[2, idx[x + 2]] += 1
            ext_counts[3, idx[x + 3]] += 1
        for x in range(stop, w):
            ext_counts[0, idx[x]] += 1
        if ext_counts[0, nb + 1] + ext_counts[1, nb + 1] + ext_counts[2, nb + 1] \
                + ext_counts[3, nb + 1] > 0:  # rare: values at or above the last edge
            for x in range(w):
                if idx[x] == nb + 1 and row[x] == last:
                    equal_last += 1
    total = ext_counts.sum(axis=0)
    for i in range(nb):
        counts[i] = total[i + 1]
    counts[nb - 1] += equal_last  # numpy closes the last bin on the right
    return total[0], total[nb + 1] - equal_last


@jit()
def histogram_batch(maps, edges, counts, under, over):
    """Count the pixels of each map on shared ``edges``.

    Parameters
    ----------
    maps : (k, N, N) float64
    edges : (nbins + 1,) float64, strictly increasing
    counts : (k, nbins) int64
        Output counts.
    under, over : (k,) int64
        Output: pixels below ``edges[0]`` and above ``edges[-1]``.
    """
    nb = edges.shape[0] - 1
    ext = np.empty(nb + 3)
    table = np.empty(n_cells_for(edges), np.int64)
    lo, inv = make_locator(edges, ext, table)
    idx = np.empty(maps.shape[2], np.int64)
    ext_counts = np.empty((4, nb + 2), np.int64)
    for m in range(maps.shape[0]):
        under[m], over[m] = _histogram_one(maps[m], edges, ext, lo, inv, table, idx,
                                           ext_counts, counts[m])


@jit()
def histogram_scaled_batch(maps, edges, scale, counts):
    """Like :func:`histogram_batch` with per-map edges ``edges * scale[m]`` (LensTools ``pdf``)."""
    nb = edges.shape[0] - 1
    e = edges.copy()
    ext = np.empty(nb + 3)
    table = np.empty(n_cells_for(edges), np.int64)
    idx = np.empty(maps.shape[2], np.int64)
    ext_counts = np.empty((4, nb + 2), np.int64)
    for m in range(maps.shape[0]):
        for i in range(nb + 1):
            e[i] = edges[i] * scale[m]
        lo, inv = make_locator(e, ext, table)
        _histogram_one(maps[m], e, ext, lo, inv, table, idx, ext_counts, counts[m])
