"""Input checks shared by the statistics wrappers: shapes now, values chunk by chunk."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from lensval.errors import InputError


@dataclasses.dataclass
class MapSource:
    """Validated maps for the wrappers: shape checked, values read chunk by chunk."""

    data: Any  # (n, N, N) ndarray or DataArray(sample, y, x), any real dtype
    single: bool  # the user passed one (N, N) map
    angle_deg: float | None  # from a DataArray's attrs

    @property
    def n(self) -> int:
        return int(self.data.shape[0])

    @property
    def map_size(self) -> int:
        return int(self.data.shape[-1])

    def chunks(self, chunk_size: int):
        """Yield ``(start, block)`` with float64 C-contiguous blocks (values unchecked:
        :func:`lensval.stats._engine.compute_block` checks them per sub-batch)."""
        for start in range(0, self.n, chunk_size):
            part = self.data[start:start + chunk_size]
            if not isinstance(part, np.ndarray):
                part = part.values
            yield start, np.ascontiguousarray(part, dtype=np.float64)


def as_source(maps: Any, name: str = "maps") -> MapSource:
    """Check the shape of a map or maps without reading lazily stored values.

    Accepts ``(N, N)``, ``(n, N, N)`` or ``(n, 1, N, N)`` arrays, DataArrays (angle from
    the ``angle_deg`` attr), Datasets with ``kappa``, torch tensors, paths.
    """
    import xarray as xr

    from lensval.io import open_maps

    angle = None
    if isinstance(maps, (str, os.PathLike)):
        maps = open_maps(maps)
    if isinstance(maps, xr.Dataset):
        if "kappa" not in maps:
            raise InputError(f"{name}: dataset has no 'kappa' variable")
        maps = maps["kappa"]
    if isinstance(maps, xr.DataArray):
        angle = maps.attrs.get("angle_deg")
        # a Variable indexes lazily: values are read per chunk
        data = maps.variable if maps.ndim != 2 else np.asarray(maps.values)
        dtype = maps.dtype
    else:
        if hasattr(maps, "detach"):  # torch tensor
            maps = maps.detach().cpu().numpy()
        data = np.asarray(maps)
        dtype = data.dtype
    if dtype.kind == "O" or not (np.issubdtype(dtype, np.floating)
                               or np.issubdtype(dtype, np.integer)):
        raise InputError(f"{name}: maps must be real numbers, got dtype {dtype}")
    shape = tuple(data.shape)
    single = len(shape) == 2
    if single:
        data = data[None]
    elif len(shape) == 4 and shape[1] == 1:
        data = data[:, 0]
    if data.ndim != 3:
        raise InputError(f"{name} has shape {shape}: expected (N, N) or (n, N, N) maps")
    if data.shape[1] != data.shape[2]:
        raise InputError(f"{name}: maps are {data.shape[1]}x{data.shape[2]}, not square: "
                         "crop them to N x N first")
    if data.shape[0] == 0:
        raise InputError(f"{name} is an empty ensemble (0 maps)")
    if data.shape[1] < 5:
        raise InputError(f"{name}: maps of {data.shape[1]}x{data.shape[1]} pixels are too "
                         "small (need at least 5x5)")
    return MapSource(data, single, float(angle) if angle is not None else None)


def resolve_angle(angle_deg: float | None, from_attrs: float | None, name: str = "maps"
                  ) -> float:
    """The map side in degrees: the keyword wins over the attrs; it must be positive."""
    from lensval.io import _check_angle

    return _check_angle(angle_deg if angle_deg is not None else from_attrs, name)
