"""Minkowski functionals V0, V1, V2 (LensTools ``ConvergenceMap.minkowskiFunctionals``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lensval import _defaults
from lensval.stats import _engine, _input
from lensval.stats.config import check_edges

__all__ = ["MinkowskiFunctionals", "minkowski_functionals"]


@dataclasses.dataclass(frozen=True)
class MinkowskiFunctionals:
    """Minkowski functionals of an ensemble in threshold bins.

    Attributes
    ----------
    nu : (nbins,) ndarray
        Threshold-bin midpoints.
    nu_edges : (nbins + 1,) ndarray
        Threshold edges (in units of each map's sigma if ``norm``, else kappa).
    V0, V1, V2 : (n, nbins) ndarray
        Area fraction, boundary length and genus characteristic (``(nbins,)`` for a
        single input map).
    norm : bool
        Whether the edges are in units of sigma.
    """

    nu: np.ndarray
    nu_edges: np.ndarray
    V0: np.ndarray
    V1: np.ndarray
    V2: np.ndarray
    norm: bool = True


def minkowski_functionals(maps: Any, *, nu_edges: Any = None, norm: bool = True,
                          periodic: bool = True) -> MinkowskiFunctionals:
    """Minkowski functionals V0, V1, V2 of each map, bit-identical to LensTools 1.2.

    Parameters
    ----------
    maps : (N, N) or (n, N, N) array_like, or DataArray
        Convergence maps (any real dtype; computed in float64).
    nu_edges : (nbins + 1,) array_like, optional
        Strictly increasing threshold edges; default ``linspace(-2.0, 1.8, 20)``
        (19 bins, midpoints -1.9 ... 1.7).
    norm : bool
        ``True`` (default, the paper's choice): edges in units of each map's standard
        deviation ``map.std()`` (ddof=0); ``False``: edges in kappa units.
    periodic : bool
        ``True`` (default, LensTools): finite-difference stencils wrap around.
        ``False``: pixels within 2 of the border (whose stencils would wrap) are left
        out and the sums are normalised by the number of pixels used.

    Returns
    -------
    MinkowskiFunctionals
        ``V0``, ``V1``, ``V2`` of shape ``(n, nbins)`` (``(nbins,)`` for one map).

    Notes
    -----
    With ``t_i = nu_i * sigma`` (``sigma = 1`` if not ``norm``), derivatives in pixel
    units (``gx = (m[y, x+1] - m[y, x-1]) / 2``, ``hxx = (m[y, x+2] + m[y, x-2]
    - 2 m[y, x]) / 4``, ``hxy`` from the four diagonal neighbours / 4):

    - ``V0_i`` = fraction of pixels with ``m >= (t_i + t_i+1) / 2``;
    - ``V1_i`` = sum over pixels with ``t_i <= m < t_i+1`` of
      ``sqrt(gx^2 + gy^2) / 4``, divided per pixel by ``N^2 (nu_i+1 - nu_i)``;
    - ``V2_i`` likewise of ``(2 gx gy hxy - gx^2 hyy - gy^2 hxx) / (gx^2 + gy^2) / 2 pi``
      (``(2 hxy - hxx - hyy) / 4 pi`` where the gradient vanishes).

    The bin width is not multiplied by sigma (as in LensTools).

    Examples
    --------
    >>> import numpy as np, lensval as lv
    >>> maps = np.random.default_rng(0).normal(0, 0.02, (4, 64, 64))
    >>> mf = lv.minkowski_functionals(maps)
    >>> mf.V0.shape, mf.nu.size
    ((4, 19), 19)
    """
    src = _input.as_source(maps)
    edges = check_edges(_defaults.default_nu_edges() if nu_edges is None else nu_edges,
                        "nu_edges")
    plan = _engine.make_plan(src.map_size, {"minkowski"}, nu_edges=edges, norm=norm,
                             periodic=periodic)
    mf = _engine.run(src, plan)["minkowski"]
    if src.single:
        mf = mf[0]
    return MinkowskiFunctionals(
        nu=0.5 * (edges[:-1] + edges[1:]), nu_edges=np.array(edges),
        V0=np.ascontiguousarray(mf[..., 0, :]), V1=np.ascontiguousarray(mf[..., 1, :]),
        V2=np.ascontiguousarray(mf[..., 2, :]), norm=bool(norm),
    )
