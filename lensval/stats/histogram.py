"""Pixel histograms on shared edges, and LensTools' one-point ``pdf``."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lensval import _defaults
from lensval.stats import _engine, _input
from lensval.stats.config import check_edges

__all__ = ["PixelHistogram", "PixelPDF", "pixel_histogram", "pdf"]


@dataclasses.dataclass(frozen=True)
class PixelHistogram:
    """Per-map pixel counts on shared kappa edges.

    Attributes
    ----------
    kappa_edges : (nbins + 1,) ndarray
        Shared edges; bins are ``[e_i, e_i+1)``, the last one closed (``numpy.histogram``).
    counts : (n, nbins) ndarray of int64
        Pixels per bin of each map (``(nbins,)`` for a single map).
    under, over : (n,) ndarray of int64
        Pixels below ``kappa_edges[0]`` / above ``kappa_edges[-1]`` (scalars for one map).
    """

    kappa_edges: np.ndarray
    counts: np.ndarray
    under: np.ndarray
    over: np.ndarray

    @property
    def kappa(self) -> np.ndarray:
        """Bin midpoints, ``(nbins,)``."""
        return 0.5 * (self.kappa_edges[:-1] + self.kappa_edges[1:])


@dataclasses.dataclass(frozen=True)
class PixelPDF:
    """LensTools-compatible one-point PDF of each map.

    Attributes
    ----------
    midpoints : (nbins,) ndarray
        Threshold-bin midpoints (in sigma units if ``norm``).
    thresholds : (nbins + 1,) ndarray
        The edges as given.
    pdf : (n, nbins) ndarray
        ``np.histogram(m, thresholds * sigma, density=True)[0] * sigma`` per map
        (``sigma = 1`` if not ``norm``); ``(nbins,)`` for a single map.
    norm : bool
    """

    midpoints: np.ndarray
    thresholds: np.ndarray
    pdf: np.ndarray
    norm: bool


def pixel_histogram(maps: Any, *, kappa_edges: Any = None) -> PixelHistogram:
    """Count the pixels of each map on fixed, shared kappa edges.

    Parameters
    ----------
    maps : (N, N) or (n, N, N) array_like, or DataArray
        Convergence maps (computed in float64).
    kappa_edges : (nbins + 1,) array_like, optional
        Strictly increasing edges in kappa; default ``linspace(-0.10, 1.20, 131)``
        (130 bins of 0.01, fixed so that the histograms of any two ensembles pool).

    Returns
    -------
    PixelHistogram
        ``counts`` ``(n, nbins)`` equal to ``np.histogram(map, kappa_edges)[0]`` per map,
        plus the ``under``/``over`` counts outside the edges (``counts.sum(axis=1) +
        under + over == N**2``).

    Examples
    --------
    >>> import numpy as np, lensval as lv
    >>> h = lv.pixel_histogram(np.zeros((2, 8, 8)), kappa_edges=[-1.0, 0.0, 1.0])
    >>> h.counts.tolist()
    [[0, 64], [0, 64]]
    """
    src = _input.as_source(maps)
    edges = check_edges(_defaults.default_kappa_edges() if kappa_edges is None
                        else kappa_edges, "kappa_edges")
    plan = _engine.make_plan(src.map_size, {"hist"}, kappa_edges=edges)
    res = _engine.run(src, plan)
    pick = (lambda a: a[0]) if src.single else (lambda a: a)
    return PixelHistogram(np.array(edges), pick(res["hist"]), pick(res["under"]),
                          pick(res["over"]))


def pdf(maps: Any, thresholds: Any, *, norm: bool = False) -> PixelPDF:
    """One-point PDF of each map, bit-identical to LensTools' ``ConvergenceMap.pdf``.

    Parameters
    ----------
    maps : (N, N) or (n, N, N) array_like, or DataArray
        Convergence maps (computed in float64).
    thresholds : (nbins + 1,) array_like
        Strictly increasing edges (units of each map's sigma if ``norm``).
    norm : bool
        Interpret ``thresholds`` in units of ``map.std()`` (LensTools' default: False).

    Returns
    -------
    PixelPDF
        ``pdf`` of shape ``(n, nbins)``: ``counts / width / counts.sum() * sigma`` with
        ``numpy.histogram``'s binning on ``thresholds * sigma``. A map with no pixel
        inside the thresholds gives NaN.

    Examples
    --------
    >>> import numpy as np, lensval as lv
    >>> maps = np.random.default_rng(0).normal(size=(3, 32, 32))
    >>> p = lv.pdf(maps, np.linspace(-3, 3, 13), norm=True)
    >>> p.pdf.shape
    (3, 12)
    """
    src = _input.as_source(maps)
    edges = check_edges(thresholds, "thresholds")
    plan = _engine.make_plan(src.map_size, {"pdf"}, pdf_edges=edges, pdf_norm=norm)
    res = _engine.run(src, plan)
    counts = res["pdf_counts"]
    sigma = res["moments"][:, 1:2] if norm else np.ones((src.n, 1))
    # numpy.histogram(density=True): n / db / n.sum(), with db the scaled edges' widths
    scaled = edges[None, :] * sigma
    db = np.diff(scaled, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = counts / db / counts.sum(axis=1, keepdims=True) * sigma
    return PixelPDF(0.5 * (edges[:-1] + edges[1:]), np.array(edges),
                    density[0] if src.single else density, bool(norm))
