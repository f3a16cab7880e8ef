"""Power spectrum of convergence maps (LensTools ``ConvergenceMap.powerSpectrum``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lensval import _defaults
from lensval.stats import _engine, _input
from lensval.stats.config import check_edges

__all__ = ["PowerSpectrum", "power_spectrum"]


@dataclasses.dataclass(frozen=True)
class PowerSpectrum:
    """Binned power spectra of an ensemble.

    Attributes
    ----------
    ell : (nbins,) ndarray
        Bin midpoints ``(ell_edges[:-1] + ell_edges[1:]) / 2`` (LensTools' ``l``).
    ell_edges : (nbins + 1,) ndarray
        Bin edges; bin ``k`` holds Fourier pixels with ``e_k < ell <= e_k+1``.
    power : (n, nbins) ndarray
        ``P(ell)`` in sr (``(nbins,)`` for a single input map). 0 in empty bins.
    n_modes : (nbins,) ndarray of int
        Fourier pixels of the half plane (rfft2) in each bin; 0 marks an empty bin.
    n_modes_eff : (nbins,) ndarray
        Effective number of independent modes, ``n^2 / (n + n_ly0)`` with ``n_ly0``
        the bin's pixels on the ``ly = 0`` column (LensTools' ``countModes``).
    """

    ell: np.ndarray
    ell_edges: np.ndarray
    power: np.ndarray
    n_modes: np.ndarray
    n_modes_eff: np.ndarray


def _n_modes_eff(hits: np.ndarray, hits_ly0: np.ndarray) -> np.ndarray:
    out = np.zeros(hits.shape, dtype=np.float64)
    ok = hits > 0
    h = hits[ok].astype(np.float64)
    out[ok] = h * h / (h + hits_ly0[ok])
    return out


def power_spectrum(maps: Any, *, angle_deg: float | None = None,
                   ell_edges: Any = None) -> PowerSpectrum:
    """Azimuthally averaged power spectrum of each map, bit-identical to LensTools 1.2.

    Parameters
    ----------
    maps : (N, N) or (n, N, N) array_like, or DataArray ``kappa(sample, y, x)``
        Convergence maps (any real dtype; computed in float64).
    angle_deg : float, optional
        Side of one map in degrees; default: the DataArray's ``angle_deg`` attr.
    ell_edges : (nbins + 1,) array_like, optional
        Strictly increasing multipole edges; default ``arange(200, 50000, 200)``
        (248 bins).

    Returns
    -------
    PowerSpectrum
        ``power`` has shape ``(n, nbins)``, or ``(nbins,)`` for one ``(N, N)`` map.

    Notes
    -----
    ``F = rfft2(map)`` (no mean subtraction, no window). The Fourier pixel ``(i, j)``
    has ``ell = sqrt(lx^2 + ly^2)``, ``lx = min(i, N - i) * 360 / angle_deg``,
    ``ly = j * 360 / angle_deg``, and belongs to bin ``k`` if
    ``ell_edges[k] < ell <= ell_edges[k+1]``; each half-plane pixel counts once.
    ``P_k = norm * sum_k |F|^2 / n_k`` with ``norm = ((angle_deg pi / 180) / N^2)^2``.
    Sums run in LensTools' row-major pixel order, so float64 results are bit-identical.

    Examples
    --------
    >>> import numpy as np, lensval as lv
    >>> maps = np.random.default_rng(0).normal(0, 0.02, (4, 64, 64))
    >>> ps = lv.power_spectrum(maps, angle_deg=0.866)
    >>> ps.power.shape
    (4, 248)
    """
    src = _input.as_source(maps)
    angle = _input.resolve_angle(angle_deg, src.angle_deg)
    edges = check_edges(_defaults.default_ell_edges() if ell_edges is None else ell_edges,
                        "ell_edges")
    plan = _engine.make_plan(src.map_size, {"power"}, angle_deg=angle, ell_edges=edges)
    power = _engine.run(src, plan)["power"]
    return PowerSpectrum(
        ell=0.5 * (edges[:-1] + edges[1:]),
        ell_edges=np.array(edges),
        power=power[0] if src.single else power,
        n_modes=plan.hits.copy(),
        n_modes_eff=_n_modes_eff(plan.hits, plan.hits_ly0),
    )
