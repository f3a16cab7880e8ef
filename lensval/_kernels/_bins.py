"""Exact bin lookup: an arithmetic first guess corrected by exact comparisons.

A binary search per pixel costs ~5 unpredictable branches. Instead, the value's cell
on a uniform grid over the edges gives a first guess (a table lookup, at least two
cells per edge interval) and one branch-free step each way corrects it. A row whose
guesses were off by more than one step (possible only for very uneven edges) is
redone with unbounded ``while`` loops.
The answer depends only on exact comparisons with the edges, never on the guess, so
pixels lying exactly on an edge (tied maps, ``linspace(-2, 1.8, 20)[10] = -2.2e-16``)
land where the reference implementation puts them.

The edges are stored with sentinels, ``ext = [-inf, *edges, +inf]``, so that no step
needs a bounds check, and indices are unsigned so that numba emits no negative-index
wrap-around code (which would block LLVM's vectoriser).
"""

from __future__ import annotations

import numpy as np

from lensval._kernels._jit import jit

#: guess-table cells per edge (at least); more cells for uneven edges, up to MAX_CELLS
CELLS_PER_EDGE = 4
MAX_CELLS = 4096


@jit()
def n_cells_for(edges):
    """Guess-table size: fine enough that each cell holds about one edge."""
    n = edges.shape[0]
    span = edges[n - 1] - edges[0]
    gap = span
    for i in range(n - 1):
        d = edges[i + 1] - edges[i]
        if 0.0 < d < gap:
            gap = d
    cells = CELLS_PER_EDGE * n + 2
    if gap > 0.0 and span / gap * 2.0 > cells:
        cells = min(MAX_CELLS, np.int64(span / gap * 2.0) + 2)
    return cells


@jit()
def make_locator(edges, ext, table):
    """Fill ``ext`` (n + 2 float64) and ``table`` (int64 cells) for :func:`count_le_row`.

    ``edges`` must be non-decreasing. Returns ``(lo, inv)``: value ``v`` lies in cell
    ``(v - lo) * inv`` of the guess table.
    """
    n = edges.shape[0]
    ext[0] = -np.inf
    for i in range(n):
        ext[i + 1] = edges[i]
    ext[n + 1] = np.inf
    n_cells = table.shape[0]
    lo = edges[0]
    span = edges[n - 1] - lo
    inv = n_cells / span if span > 0 else 0.0
    j = 0
    for c in range(n_cells):
        start = lo + c / inv if inv > 0 else lo
        while j < n and edges[j] <= start:
            j += 1
        table[c] = j
    return lo, inv


@jit()
def _guess_row(lo, inv, table, values, out):
    """First guesses from the cell table (a separate loop: cheaper than fused)."""
    top = np.float64(table.shape[0] - 1)
    for p in range(values.shape[0]):
        c = min(max((values[p] - lo) * inv, 0.0), top)
        out[p] = table[np.uint64(np.int64(c))]


@jit()
def _step_row(ext, values, out):
    """One branch-free step each way; returns how many results may still be wrong."""
    one = np.uint64(1)
    bad = 0
    for p in range(values.shape[0]):
        j = np.uint64(out[p])
        v = values[p]
        j = j + np.uint64(ext[j + one] <= v) - np.uint64(ext[j] > v)
        bad += (ext[j] > v) | (ext[j + one] <= v)
        out[p] = j
    return bad


@jit()
def count_le_row(ext, lo, inv, table, values, out):
    """``out[p]`` = exact number of edges <= ``values[p]`` (``ext`` from :func:`make_locator`).

    Works on a whole row, not one value: a numba call per pixel costs more than the
    lookup (array arguments are reference-counted at every call). ``values`` must not
    hold NaN (callers check inputs first).
    """
    _guess_row(lo, inv, table, values, out)
    if _step_row(ext, values, out) == 0:
        return
    for p in range(values.shape[0]):  # rare: very uneven edges
        v = values[p]
        j = out[p]
        while ext[j + 1] <= v:
            j += 1
        while ext[j] > v:
            j -= 1
        out[p] = j
