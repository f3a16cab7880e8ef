"""Per-map moments: mean, standard deviation, skewness, excess kurtosis."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lensval.stats import _engine, _input

__all__ = ["Moments", "moments"]


@dataclasses.dataclass(frozen=True)
class Moments:
    """One-point moments of each map (population moments, ddof=0).

    Attributes
    ----------
    mean, std : (n,) ndarray
        ``map.mean()`` and ``map.std()``, bit-identical to NumPy.
    skewness : (n,) ndarray
        ``m3 / m2**1.5`` (``scipy.stats.skew``, ``bias=True``).
    kurtosis : (n,) ndarray
        Excess kurtosis ``m4 / m2**2 - 3`` (``scipy.stats.kurtosis``, Fisher,
        ``bias=True``). Skewness and kurtosis are NaN for a constant map.
    """

    mean: np.ndarray
    std: np.ndarray
    skewness: np.ndarray
    kurtosis: np.ndarray

    names = _engine.MOMENT_NAMES

    def as_array(self) -> np.ndarray:
        """``(n, 4)`` array with columns mean, std, skewness, kurtosis."""
        return np.stack([self.mean, self.std, self.skewness, self.kurtosis], axis=-1)


def moments(maps: Any) -> Moments:
    """Mean, standard deviation, skewness and excess kurtosis of each map.

    Parameters
    ----------
    maps : (N, N) or (n, N, N) array_like, or DataArray
        Convergence maps (computed in float64).

    Returns
    -------
    Moments
        Fields of shape ``(n,)`` (scalars for one ``(N, N)`` map).

    Examples
    --------
    >>> import numpy as np, lensval as lv
    >>> mo = lv.moments(np.arange(64.0).reshape(1, 8, 8))
    >>> float(mo.mean[0]), float(mo.skewness[0])
    (31.5, 0.0)
    """
    src = _input.as_source(maps)
    plan = _engine.make_plan(src.map_size, {"moments"})
    m = _engine.run(src, plan)["moments"]
    if src.single:
        m = m[0]
    return Moments(*(np.array(m[..., i]) for i in range(4)))
