"""Peak counts (LensTools ``ConvergenceMap.peakCount``, without its float32 quirk)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lensval import _defaults
from lensval._kernels import peaks as kpeaks
from lensval.stats import _engine, _input
from lensval.stats.config import check_edges

__all__ = ["PeakCounts", "peak_counts"]


@dataclasses.dataclass(frozen=True)
class PeakCounts:
    """Peak counts of an ensemble in threshold bins.

    Attributes
    ----------
    nu : (nbins,) ndarray
        Bin midpoints.
    nu_edges : (nbins + 1,) ndarray
        Peak-height edges (units of each map's sigma if ``norm``, else kappa).
    counts : (n, nbins) ndarray of int64
        Number of peaks per bin (``(nbins,)`` for a single map).
    density : (n, nbins) ndarray
        Differential counts ``counts / bin width``, accumulated as LensTools does
        (``1 / width`` added once per peak), i.e. LensTools' ``peakCount`` output.
    norm : bool
    """

    nu: np.ndarray
    nu_edges: np.ndarray
    counts: np.ndarray
    density: np.ndarray
    norm: bool = True


def peak_counts(maps: Any, *, nu_edges: Any = None, norm: bool = True,
                periodic: bool = True) -> PeakCounts:
    """Count local maxima of each map in height bins.

    Parameters
    ----------
    maps : (N, N) or (n, N, N) array_like, or DataArray
        Convergence maps (computed in float64).
    nu_edges : (nbins + 1,) array_like, optional
        Strictly increasing peak-height edges; default ``linspace(-2, 8, 21)``
        (20 bins of 0.5 sigma).
    norm : bool
        Edges in units of each map's ``map.std()`` (default) or in kappa.
    periodic : bool
        ``True`` (default, LensTools): neighbours wrap around. ``False``: the
        outermost row and column of pixels cannot be peaks.

    Returns
    -------
    PeakCounts
        Integer ``counts`` and LensTools-style ``density``, ``(n, nbins)``.

    Notes
    -----
    A peak is a pixel strictly greater than all 8 neighbours; it falls in bin ``i`` if
    ``nu_i sigma <= m < nu_i+1 sigma``. LensTools 1.2 stores the centre pixel as a C
    ``float`` (float32) before comparing it with its float64 neighbours, so it misses
    (or invents) peaks whose height differs from a neighbour by less than float32
    resolution; lensval compares in float64. That is the only difference.

    Examples
    --------
    >>> import numpy as np, lensval as lv
    >>> m = np.zeros((8, 8)); m[3, 4] = 1.0
    >>> lv.peak_counts(m, nu_edges=[0.5, 1.5], norm=False).counts.tolist()
    [1]
    """
    src = _input.as_source(maps)
    edges = check_edges(_defaults.default_peak_nu_edges() if nu_edges is None else nu_edges,
                        "nu_edges")
    plan = _engine.make_plan(src.map_size, {"peaks"}, peak_nu_edges=edges, norm=norm,
                             periodic=periodic)
    counts = _engine.run(src, plan)["peaks"]
    density = peak_density(counts, edges)
    if src.single:
        counts, density = counts[0], density[0]
    return PeakCounts(0.5 * (edges[:-1] + edges[1:]), np.array(edges), counts, density,
                      bool(norm))


def peak_density(counts: np.ndarray, nu_edges: np.ndarray) -> np.ndarray:
    """LensTools' differential peak counts from integer counts ``(n, nbins)``."""
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    nu_edges = np.asarray(nu_edges, dtype=np.float64)
    step = 1.0 / (nu_edges[1:] - nu_edges[:-1])
    out = np.empty(counts.shape)
    kpeaks.repeated_sum(counts, step, out)
    return out
