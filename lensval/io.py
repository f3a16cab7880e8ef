"""Map ensembles in memory and on disk.

A map ensemble is an :class:`xarray.DataArray` named ``kappa`` with dims
``(sample, y, x)``, float32 on disk, and attrs ``angle_deg`` (side of one map in
degrees) plus free provenance attrs (``source``, ``preset``, ``seed``, ...).

Readers: NetCDF (``.nc``, lazy), NumPy ``.npy`` (memory-mapped) and ``.npz`` of shape
``(N, M, M)`` or ``(N, 1, M, M)`` (the CosmoGAN layout; ``angle_deg`` must be given),
and FITS maps with LensTools' ``ANGLE`` header (needs astropy, the ``fits`` extra).
Writers are atomic: a temporary file in the target folder is renamed into place only
once complete, so a crash never leaves a half-written file that looks valid.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lensval.errors import InputError

__all__ = [
    "as_maps",
    "open_maps",
    "save_maps",
    "open_stats",
    "save_dataset",
    "iter_chunks",
    "check_finite",
    "atomic_path",
    "MapWriter",
]

MAP_DIMS = ("sample", "y", "x")
_ARRAY_SUFFIXES = (".npy", ".npz")
_FITS_SUFFIXES = (".fits", ".fit", ".fits.gz")


# --------------------------------------------------------------------------- checks
def _check_angle(angle_deg: Any, where: str) -> float:
    if angle_deg is None:
        raise InputError(
            f"{where} has no map size in degrees: pass angle_deg=... (CLI: --angle-deg); "
            "the CosmoGAN maps are 0.866 deg (sqrt(12)/4)"
        )
    try:
        angle = float(angle_deg)
    except (TypeError, ValueError):
        raise InputError(f"{where}: angle_deg must be a number, got {angle_deg!r}") from None
    if not np.isfinite(angle) or angle <= 0:
        raise InputError(f"{where}: angle_deg must be a positive number of degrees, got {angle}")
    return angle


def _check_shape(shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    """Accept (N, M, M) or (N, 1, M, M); return the (N, M, M) shape."""
    if len(shape) == 4 and shape[1] == 1:
        shape = (shape[0], shape[2], shape[3])
    if len(shape) == 2:
        raise InputError(
            f"{where} is a single {shape[0]}x{shape[1]} map: pass an ensemble of shape "
            "(N, M, M), e.g. maps[None]"
        )
    if len(shape) != 3:
        raise InputError(
            f"{where} has shape {shape}: expected maps of shape (N, M, M) or (N, 1, M, M)"
        )
    n, ny, nx = shape
    if ny != nx:
        raise InputError(f"{where}: maps are {ny}x{nx}, not square: crop them to M x M first")
    if n == 0:
        raise InputError(f"{where} is an empty ensemble (0 maps)")
    if nx < 8:
        raise InputError(f"{where}: maps of {nx}x{nx} pixels are too small (need at least 8x8)")
    return shape


def check_finite(block: np.ndarray, offset: int = 0, where: str = "input") -> None:
    """Raise :class:`InputError` if ``block`` (a chunk of maps) holds NaN or inf.

    ``offset`` is the sample index of ``block[0]`` in the whole ensemble, so that the
    message names the first bad sample in the user's numbering.
    """
    finite = np.isfinite(block)
    if finite.all():
        return
    bad = ~finite
    count = int(bad.sum())
    first = offset + int(np.argmax(bad.reshape(block.shape[0], -1).any(axis=1)))
    kinds = []
    if np.isnan(block).any():
        kinds.append("NaN")
    if np.isinf(block).any():
        kinds.append("inf")
    raise InputError(
        f"{where}: {count} {'/'.join(kinds)} pixel(s), first in sample {first}: "
        "remove or repair those maps"
    )


# --------------------------------------------------------------------------- in memory
def as_maps(obj: Any, angle_deg: float | None = None, *, check: bool = True,
            name: str = "input") -> xr.DataArray:
    """Coerce maps to the lensval data model.

    Parameters
    ----------
    obj : array_like, xarray.DataArray or path
        Maps of shape ``(N, M, M)`` or ``(N, 1, M, M)``; a torch tensor or anything
        with ``__array__`` works; a path is opened with :func:`open_maps`.
    angle_deg : float, optional
        Side of one map in degrees. Required for plain arrays; for a DataArray with an
        ``angle_deg`` attr it must agree with it.
    check : bool
        Check for NaN/inf. For lazily loaded data this reads everything, so the
        streaming operations pass ``check=False`` and check chunk by chunk instead.

    Returns
    -------
    xarray.DataArray
        ``kappa(sample, y, x)`` with attr ``angle_deg``.
    """
    if isinstance(obj, (str, os.PathLike)):
        return open_maps(obj, angle_deg=angle_deg)
    if isinstance(obj, xr.Dataset):
        if "kappa" not in obj:
            raise InputError(f"{name}: dataset has no 'kappa' variable (is it a statistics file?)")
        obj = obj["kappa"]
    if isinstance(obj, xr.DataArray):
        da = obj
        if da.ndim == 4 and da.shape[1] == 1:
            da = da.isel({da.dims[1]: 0})
        _check_shape(tuple(da.shape), name)
        if tuple(da.dims) != MAP_DIMS:
            da = da.rename(dict(zip(da.dims, MAP_DIMS, strict=False)))
        stored = da.attrs.get("angle_deg")
        if angle_deg is not None and stored is not None and not np.isclose(
                float(angle_deg), float(stored), rtol=1e-9, atol=0):
            raise InputError(
                f"{name} says angle_deg={float(stored):g} but {float(angle_deg):g} was given: "
                "drop angle_deg (--angle-deg) or fix the file"
            )
        angle = _check_angle(angle_deg if angle_deg is not None else stored, name)
        da = da.rename("kappa")
        da.attrs = {**da.attrs, "angle_deg": angle}
    else:
        if hasattr(obj, "detach"):  # torch tensor
            obj = obj.detach().cpu().numpy()
        arr = np.asarray(obj)
        if arr.dtype == object:
            raise InputError(f"{name}: maps are ragged (different sizes): pad or crop to M x M")
        if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"{name}: maps must be real numbers, got dtype {arr.dtype}")
        shape = _check_shape(arr.shape, name)
        arr = arr.reshape(shape)
        angle = _check_angle(angle_deg, name)
        da = xr.DataArray(arr, dims=MAP_DIMS, name="kappa", attrs={"angle_deg": angle})
    if check:
        check_finite(np.asarray(da.data) if not _is_lazy(da) else da.values, 0, name)
    return da


def _is_lazy(da: xr.DataArray) -> bool:
    return not isinstance(da.variable._data, np.ndarray)


def iter_chunks(maps: xr.DataArray, chunk_size: int, *, check: bool = True,
                dtype=np.float64, name: str = "input") -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, block)`` with ``block`` a ``(k, M, M)`` array of ``dtype``.

    Only one chunk is in memory at a time (lazy NetCDF, memory-mapped .npy and dask
    arrays are read slice by slice); each chunk is checked for NaN/inf.
    """
    n = maps.sizes["sample"]
    for start in range(0, n, chunk_size):
        block = np.asarray(maps.isel(sample=slice(start, start + chunk_size)).values,
                           dtype=dtype)
        if check:
            check_finite(block, start, name)
        yield start, block


# --------------------------------------------------------------------------- reading
def _guess_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_FITS_SUFFIXES):
        return "fits"
    if name.endswith(_ARRAY_SUFFIXES):
        return "array"
    return "netcdf"


def open_maps(path: str | os.PathLike, angle_deg: float | None = None, *,
              chunks: dict | None = None) -> xr.DataArray:
    """Open a map ensemble lazily.

    Parameters
    ----------
    path : str or path-like
        ``.nc`` (NetCDF written by lensval or any file with a ``kappa(sample, y, x)``
        variable), ``.npy``/``.npz`` (shape ``(N, M, M)`` or ``(N, 1, M, M)``), or FITS.
    angle_deg : float, optional
        Side of one map in degrees; required for ``.npy``/``.npz``; for other formats it
        must agree with the file's own value (a mismatch raises :class:`InputError`).
    chunks : dict, optional
        Dask chunks, e.g. ``{"sample": 256}``, to get a dask-backed array (needs dask).

    Returns
    -------
    xarray.DataArray
        Lazily loaded ``kappa(sample, y, x)``. Values are checked for NaN/inf when
        read (:func:`iter_chunks`), not here.
    """
    p = Path(path)
    where = f"'{p}'"
    if not p.exists():
        raise InputError(f"{where} does not exist")
    if p.is_dir():
        raise InputError(f"{where} is a folder: give a map file (.nc, .npy, .npz, .fits)")
    kind = _guess_kind(p)
    if kind == "array":
        da = _open_array(p, angle_deg, where)
    elif kind == "fits":
        da = _open_fits(p, angle_deg, where)
    else:
        ds = _open_netcdf(p, where)
        if "kappa" not in ds:
            hint = " (it looks like a statistics file)" if "power" in ds else ""
            raise InputError(f"{where} has no 'kappa' variable{hint}: expected a map ensemble")
        da = as_maps(ds["kappa"], angle_deg=angle_deg, check=False, name=where)
    if chunks:
        da = da.chunk(chunks)
    return da


def _open_netcdf(p: Path, where: str) -> xr.Dataset:
    try:
        return xr.open_dataset(p, engine="h5netcdf", cache=False)
    except Exception as exc:  # h5py raises OSError, xarray ValueError, ...
        raise InputError(
            f"cannot read {where}: not a readable NetCDF4/HDF5 file, or truncated "
            f"({type(exc).__name__}); regenerate or re-download it"
        ) from None


def _open_array(p: Path, angle_deg: float | None, where: str) -> xr.DataArray:
    try:
        if p.name.lower().endswith(".npz"):
            with np.load(p) as z:
                keys = list(z.keys())
                if not keys:
                    raise InputError(f"{where} holds no arrays")
                key = "kappa" if "kappa" in keys else keys[0]
                arr = z[key]
        else:
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"cannot read {where}: not a valid .npy/.npz file, or truncated "
            f"({type(exc).__name__}: {exc})"
        ) from None
    return as_maps(arr, angle_deg=angle_deg, check=False, name=where)


def _open_fits(p: Path, angle_deg: float | None, where: str) -> xr.DataArray:
    try:
        from astropy.io import fits
    except ImportError:
        raise InputError(
            f"reading FITS ({where}) needs astropy: pip install 'lensval[fits]'"
        ) from None
    try:
        with fits.open(p, memmap=False) as hdul:
            hdu = next((h for h in hdul if h.data is not None), None)
            if hdu is None:
                raise InputError(f"{where} has no image data")
            data = np.asarray(hdu.data)
            header_angle = hdu.header.get("ANGLE")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read {where} as FITS ({type(exc).__name__}: {exc})") from None
    if data.ndim == 2:
        data = data[None]
    return as_maps(data, angle_deg=angle_deg if angle_deg is not None else header_angle,
                   check=False, name=where)


def open_stats(path: str | os.PathLike) -> xr.Dataset:
    """Open a statistics file (the file contract of :func:`lensval.summarize`)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"'{p}' does not exist")
    ds = _open_netcdf(p, f"'{p}'")
    if "kappa" in ds and "power" not in ds:
        raise InputError(f"'{p}' holds maps, not statistics: run `lensval summarize {p}` first")
    return ds


# --------------------------------------------------------------------------- writing
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.exists():
        raise InputError(f"output folder '{folder}' does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes owner-only files
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def _clean_attrs(attrs: dict) -> dict:
    out = {}
    for k, v in attrs.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = int(v)
        elif isinstance(v, (Path,)):
            v = str(v)
        out[k] = v
    return out


def save_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a Dataset to NetCDF4 (h5netcdf) atomically."""
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return Path(path)


def save_maps(maps: Any, path: str | os.PathLike, *, angle_deg: float | None = None,
              dtype=np.float32, chunk_size: int = 256) -> Path:
    """Write a map ensemble to NetCDF (float32 by default), atomically and in chunks.

    Parameters
    ----------
    maps : array_like or xarray.DataArray
        ``(N, M, M)`` maps; see :func:`as_maps`.
    path : str or path-like
        Output ``.nc`` file; replaced only when the write completes.
    angle_deg : float, optional
        Needed for plain arrays.
    dtype : numpy dtype
        On-disk dtype (float32 per the data model; float64 to keep full precision).
    """
    da = as_maps(maps, angle_deg=angle_deg, check=False)
    n, m, _ = da.shape
    with MapWriter(path, n=n, map_size=m, angle_deg=da.attrs["angle_deg"],
                   attrs={k: v for k, v in da.attrs.items() if k != "angle_deg"},
                   dtype=dtype) as w:
        for _, block in iter_chunks(da, chunk_size, dtype=dtype):
            w.write(block)
    return Path(path)


class MapWriter:
    """Write ``kappa(sample, y, x)`` to NetCDF incrementally, atomically.

    >>> with MapWriter("maps.nc", n=1000, map_size=256, angle_deg=0.866) as w:  # doctest: +SKIP
    ...     for block in blocks:
    ...         w.write(block)

    The file appears at ``path`` only when all ``n`` maps were written and the
    context exits without error.
    """

    def __init__(self, path: str | os.PathLike, n: int, map_size: int, angle_deg: float,
                 attrs: dict | None = None, dtype=np.float32):
        self.path = Path(path)
        self.n = int(n)
        self.map_size = int(map_size)
        self.angle_deg = _check_angle(angle_deg, "MapWriter")
        self.attrs = _clean_attrs(dict(attrs or {}))
        self.dtype = np.dtype(dtype)
        self._written = 0
        self._ctx = None
        self._file = None

    def __enter__(self) -> MapWriter:
        import h5netcdf

        if self.n <= 0:
            raise InputError("cannot write an empty ensemble (n must be > 0)")
        self._ctx = atomic_path(self.path)
        tmp = self._ctx.__enter__()
        try:
            f = h5netcdf.File(tmp, "w")
            m = self.map_size
            f.dimensions = {"sample": self.n, "y": m, "x": m}
            var = f.create_variable("kappa", MAP_DIMS, self.dtype,
                                    chunks=(1, m, m))
            var.attrs["angle_deg"] = self.angle_deg
            for k, v in self.attrs.items():
                var.attrs[k] = v
            self._file, self._var = f, var
        except BaseException:
            self._ctx.__exit__(*sys.exc_info())
            raise
        return self

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` of shape ``(k, M, M)``."""
        block = np.asarray(block)
        k = block.shape[0]
        if self._written + k > self.n:
            raise InputError(f"MapWriter: writing {self._written + k} maps into a file of {self.n}")
        self._var[self._written:self._written + k] = block.astype(self.dtype, copy=False)
        self._written += k

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if self._file is not None:
                self._file.close()
        finally:
            if exc_type is None and self._written != self.n:
                exc = InputError(f"MapWriter: only {self._written} of {self.n} maps were written")
                self._ctx.__exit__(type(exc), exc, None)
                raise exc
            self._ctx.__exit__(exc_type, exc, tb)
        return False
