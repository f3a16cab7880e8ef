"""Correlation matrices of per-sample statistics (e.g. power spectra across maps)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lensval.errors import InputError

__all__ = ["correlation_matrix"]


def correlation_matrix(stat: Any, mask: Any = None) -> np.ndarray:
    """Pearson correlation matrix of the columns of a per-sample statistic.

    Parameters
    ----------
    stat : (n_samples, n_features) array_like or DataArray
        One row per map, e.g. ``ds.power``; extra trailing dimensions (e.g.
        ``minkowski(sample, functional, nu)``) are flattened into features.
    mask : (n_features,) bool array_like, optional
        Features to use, e.g. ``n_modes > 0`` to skip empty power-spectrum bins. Rows
        and columns of the others are NaN, so indices still line up with the bins.

    Returns
    -------
    (n_features, n_features) ndarray
        ``np.corrcoef(stat, rowvar=False)`` on the selected columns; a constant column
        gives a NaN row and column (no warning).

    Examples
    --------
    >>> import numpy as np, lensval as lv
    >>> x = np.random.default_rng(0).normal(size=(100, 3))
    >>> np.allclose(lv.correlation_matrix(x), np.corrcoef(x, rowvar=False))
    True
    """
    x = np.asarray(getattr(stat, "values", stat), dtype=np.float64)
    if x.ndim < 2:
        raise InputError(f"stat has shape {x.shape}: expected (n_samples, n_features)")
    x = x.reshape(x.shape[0], -1)
    n_samples, n_features = x.shape
    if n_samples < 2:
        raise InputError(f"a correlation matrix needs at least 2 samples, got {n_samples}")
    if not np.all(np.isfinite(x)):
        raise InputError("stat contains NaN or inf: drop those samples or features first")
    if mask is None:
        keep = np.ones(n_features, dtype=bool)
    else:
        keep = np.asarray(getattr(mask, "values", mask)).reshape(-1).astype(bool)
        if keep.size != n_features:
            raise InputError(f"mask has {keep.size} entries for {n_features} features")
    out = np.full((n_features, n_features), np.nan)
    if keep.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.corrcoef(x[:, keep], rowvar=False)
        out[np.ix_(keep, keep)] = np.atleast_2d(c)
    return out
