"""The embedded reference simulator: flat-sky shifted-lognormal convergence maps.

The paper's N-body maps are not public, so lensval draws its reference ensembles from
a shifted-lognormal field whose two-point function is exact on the periodic grid of a
12 deg^2 parent map (see ``docs/simulator.md`` and ``docs/reference-data.md``):

1. target spectrum ``P(ell) = C_ell W(ell)^2`` on the parent's Fourier grid
   (``C_ell`` log-log interpolated from a Halofit table, ``W`` the pixel window);
2. ``xi = FFT^-1 P``; ``xi_G = ln(1 + xi / kappa0^2)``; ``P_G = FFT xi_G``, negative
   modes clipped to 0;
3. Gaussian field ``g`` with spectrum ``P_G``;
   ``kappa = kappa0 (exp(g - sigma_G^2 / 2) - 1)`` (mean 0, floor ``-kappa0``).

Each 1024^2 parent is cut into 16 non-overlapping 256^2 maps. Parent ``p`` of split
``s`` draws its white noise from ``SeedSequence(seed, spawn_key=(SPLIT_IDS[s], p))``,
so a map depends only on ``(seed, split, preset, index)``: not on the chunk size, the
number of threads, or how many maps were asked for. Splits never share a parent.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import scipy.fft as sp_fft
import xarray as xr

from lensval._defaults import ANGLE_DEG, CHUNK_SIZE, MAP_SIZE
from lensval._progress import progress_bar
from lensval.errors import InputError

__all__ = [
    "Preset",
    "PRESETS",
    "SPLIT_IDS",
    "simulate",
    "simulate_array",
    "iter_simulate",
    "simulate_to_file",
]

#: Pixels on a side of one parent map (the paper's 2048^2 ray-tracing grid, block-averaged).
PARENT_SIZE: int = 1024
#: Side of one parent map in degrees (12 deg^2).
PARENT_ANGLE_DEG: float = math.sqrt(12.0)
#: Maps cut from one parent (a 4 x 4 grid of non-overlapping 256^2 tiles).
TILES_PER_PARENT: int = (PARENT_SIZE // MAP_SIZE) ** 2

#: Split name -> first element of the SeedSequence spawn key. Never renumber: it would
#: change every published reference ensemble.
SPLIT_IDS: dict[str, int] = {"train": 0, "validation": 1, "development": 2, "auxiliary": 3}


@dataclass(frozen=True)
class Preset:
    """A named simulator configuration.

    Attributes
    ----------
    name : str
        Preset name (the ``preset=`` keyword).
    table : str
        Which shipped ``C_ell`` table: ``"zs2.0"`` or ``"zs1.0"`` (source redshift).
    kappa0 : float or None
        Lognormal shift; the field's floor is ``-kappa0``. None for a Gaussian field.
    lognormal : bool
        Shifted-lognormal (True) or Gaussian (False) field.
    description : str
        One line for listings and provenance.
    """

    name: str
    table: str
    kappa0: float | None
    lognormal: bool
    description: str


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("cosmogan", "zs2.0", 0.060, True,
               "shifted lognormal, z_s=2 Halofit spectrum, kappa0=0.060: matches the "
               "paper's published validation maps (default)"),
        Preset("nominal_zs1", "zs1.0", 0.0298, True,
               "shifted lognormal, z_s=1 Halofit spectrum, kappa0=0.0298 (Hilbert+2011): "
               "the source redshift the paper states"),
        Preset("gaussian", "zs2.0", None, False,
               "Gaussian field with the cosmogan spectrum: the null control (same power "
               "spectrum, wrong pixel distribution and Minkowski functionals)"),
    )
}
DEFAULT_PRESET = "cosmogan"


# --------------------------------------------------------------------------- spectrum
def load_cl_table(table: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(ell, C_ell)`` of a shipped convergence power-spectrum table.

    Parameters
    ----------
    table : str
        ``"zs1.0"`` or ``"zs2.0"`` (``lensval/data/cl_kappa_<table>.txt``).

    Returns
    -------
    ell, cl : (K,) ndarray of float64
    """
    ref = resources.files("lensval") / "data" / f"cl_kappa_{table}.txt"
    with resources.as_file(ref) as path:
        data = np.loadtxt(path)
    return data[:, 0].copy(), data[:, 1].copy()


@dataclass(frozen=True)
class _Spectrum:
    """What one parent draw needs, computed once per preset (read-only arrays)."""

    amplitude: np.ndarray  # (N, N//2 + 1): multiplies rfft2(white noise)
    dc: float  # added to the (0, 0) Fourier mode: shifts g by ln(kappa0) - sigma_G^2 / 2
    kappa0: float | None
    sigma_g2: float  # variance of g (of the clipped P_G for lognormal presets)
    clipped_fraction: float  # fraction of P_G modes that were negative (set to 0)


def _grid_ell(n: int, side_rad: float) -> tuple[np.ndarray, np.ndarray]:
    """(ly, lx) multipoles of the rfft2 half plane: shapes (n, 1) and (1, n//2 + 1)."""
    d = side_rad / n
    ly = 2.0 * np.pi * np.fft.fftfreq(n, d=d)[:, None]
    lx = 2.0 * np.pi * np.fft.rfftfreq(n, d=d)[None, :]
    return ly, lx


def _target_power(ell_tab: np.ndarray, cl_tab: np.ndarray, n: int,
                  side_rad: float) -> np.ndarray:
    """``C_ell W^2`` on the rfft2 half plane of an ``n^2`` grid of side ``side_rad``.

    ``W`` is the pixel window ``sinc(lx d/2) sinc(ly d/2)`` (``d`` the pixel size):
    the parents stand for 2048^2 ray-traced maps block-averaged to 1024^2. P(0) = 0.
    """
    ly, lx = _grid_ell(n, side_rad)
    ell = np.sqrt(lx * lx + ly * ly)
    d = side_rad / n
    # np.sinc(x) = sin(pi x) / (pi x), so sinc(l d / 2) = np.sinc(l d / (2 pi))
    window = np.sinc(lx * d / (2.0 * np.pi)) * np.sinc(ly * d / (2.0 * np.pi))
    power = np.zeros_like(ell)
    nz = ell > 0
    power[nz] = np.exp(np.interp(np.log(ell[nz]), np.log(ell_tab), np.log(cl_tab)))
    return power * window * window


@functools.cache
def _spectrum(preset_name: str) -> _Spectrum:
    preset = PRESETS[preset_name]
    n = PARENT_SIZE
    side = math.radians(PARENT_ANGLE_DEG)
    area = side * side
    power = _target_power(*load_cl_table(preset.table), n, side)
    if preset.lognormal:
        k0 = float(preset.kappa0)
        # Transform the correlation function, never C_ell: on the periodic grid
        # xi = (N^2 / area) ifft2(P) and P = (area / N^2) fft2(xi) exactly.
        xi = sp_fft.irfft2(power, s=(n, n), workers=1) * (n * n / area)
        xi_g = np.log1p(xi / (k0 * k0))
        power_g = sp_fft.rfft2(xi_g, workers=1).real * (area / (n * n))
        negative = power_g < 0
        clipped = float(negative.mean())
        power_g[negative] = 0.0
        # variance of the clipped field (= xi_G(0) up to the clipped modes), so that
        # <kappa> = 0 exactly in expectation
        sigma_g2 = float(sp_fft.irfft2(power_g, s=(n, n), workers=1)[0, 0] * (n * n / area))
        dc = math.log(k0) - 0.5 * sigma_g2
    else:
        k0, power_g, clipped, dc = None, power, 0.0, 0.0
        sigma_g2 = float(sp_fft.irfft2(power, s=(n, n), workers=1)[0, 0] * (n * n / area))
    # rfft2 of unit white noise has E|W_k|^2 = N^2 and irfft2 divides by N^2, so
    # var(g) = sum_k amp_k^2 / N^2 must equal sum_k P_k / area: amp = N sqrt(P / area).
    amplitude = n * np.sqrt(power_g / area)
    amplitude.setflags(write=False)
    return _Spectrum(amplitude=amplitude, dc=dc * n * n, kappa0=k0, sigma_g2=sigma_g2,
                     clipped_fraction=clipped)


# --------------------------------------------------------------------------- one parent
def _parent(spec: _Spectrum, seed: int, split_id: int, index: int) -> np.ndarray:
    """One ``(N, N)`` float64 convergence parent map (``N = PARENT_SIZE``).

    White noise is drawn in real space (float64) and coloured in Fourier space:
    one rfft2 costs less than drawing the ~2x more normals a Hermitian half plane
    needs. FFTs run single-threaded: parallelism is over parents, and a parent's
    bits never depend on the thread count.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(split_id, index)))
    noise = rng.standard_normal((PARENT_SIZE, PARENT_SIZE), dtype=np.float64)
    f = sp_fft.rfft2(noise, workers=1, overwrite_x=True)
    f *= spec.amplitude
    f[0, 0] += spec.dc
    field = sp_fft.irfft2(f, s=(PARENT_SIZE, PARENT_SIZE), workers=1, overwrite_x=True)
    if spec.kappa0 is not None:
        # kappa0 (exp(g - sigma^2/2) - 1), with ln(kappa0) - sigma^2/2 already in g
        np.exp(field, out=field)
        field -= spec.kappa0
    return field


#: Tiles kept per parent -> their (row, column) in the 4 x 4 grid of a parent.
TILE_LAYOUTS: dict[int, tuple[tuple[int, int], ...]] = {
    16: tuple(divmod(t, PARENT_SIZE // MAP_SIZE) for t in range(TILES_PER_PARENT)),
    4: ((0, 0), (0, 2), (2, 0), (2, 2)),   # half a parent apart
    1: ((0, 0),),                           # independent maps (one parent each)
}


def _cut(parent: np.ndarray, out: np.ndarray, tiles: int = TILES_PER_PARENT) -> None:
    """Write the first ``len(out)`` of the ``tiles`` kept 256^2 tiles of ``parent`` to ``out``."""
    for t, (ty, tx) in zip(range(out.shape[0]), TILE_LAYOUTS[tiles], strict=False):
        out[t] = parent[ty * MAP_SIZE:(ty + 1) * MAP_SIZE, tx * MAP_SIZE:(tx + 1) * MAP_SIZE]


def _fill(out: np.ndarray, first_map: int, spec: _Spectrum, seed: int, split_id: int,
          pool: ThreadPoolExecutor | None, tiles: int = TILES_PER_PARENT) -> None:
    """Fill ``out`` (k, 256, 256) with maps ``first_map .. first_map + k``.

    ``first_map`` is a multiple of 16 (blocks are whole parents, the last one cut short).
    """
    first_parent = first_map // tiles

    def one(j: int) -> None:
        lo = j * tiles
        parent = _parent(spec, seed, split_id, first_parent + j)
        _cut(parent, out[lo:lo + tiles], tiles)

    jobs = range(-(-out.shape[0] // tiles))
    if pool is None:
        for j in jobs:
            one(j)
    else:
        for _ in pool.map(one, jobs):  # re-raises the first worker exception
            pass


# --------------------------------------------------------------------------- validation
def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{what} must be a positive integer, got {value!r}")
    if value <= 0:
        raise InputError(f"{what} must be a positive integer, got {value}")
    return int(value)


def _check_tiles(tiles_per_parent) -> int:
    if tiles_per_parent not in TILE_LAYOUTS:
        raise InputError(f"tiles_per_parent must be one of {sorted(TILE_LAYOUTS)}, got "
                         f"{tiles_per_parent!r}")
    return int(tiles_per_parent)


def _simulate_iv(n, split, seed, preset, chunk_size=None, workers=None
                 ) -> tuple[int, int, int, Preset, int, int]:
    """Validate and clean the simulator arguments (one-line InputErrors)."""
    n = _positive_int(n, "n (the number of maps)")
    if split not in SPLIT_IDS:
        raise InputError(f"unknown split {split!r}: choose one of {', '.join(SPLIT_IDS)}")
    if isinstance(preset, Preset):
        preset = preset.name
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    # < 2**63 so that the seed fits the int64 provenance attr of a NetCDF file
    if (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
            or not 0 <= seed < 2**63):
        raise InputError(f"seed must be a non-negative integer below 2**63, got {seed!r}")
    chunk_size = CHUNK_SIZE if chunk_size is None else _positive_int(chunk_size, "chunk_size")
    workers = _default_workers() if workers is None else _positive_int(workers, "workers")
    return n, SPLIT_IDS[split], int(seed), PRESETS[preset], chunk_size, workers


def _attrs(split: str, seed: int, preset: Preset, tiles: int = TILES_PER_PARENT) -> dict:
    from lensval import __version__

    return {"angle_deg": ANGLE_DEG, "source": "lensval.simulate", "preset": preset.name,
            "split": split, "seed": seed, "tiles_per_parent": tiles,
            "lensval_version": __version__}


def _blocks(n: int, chunk_size: int, tiles: int = TILES_PER_PARENT
            ) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of blocks of whole parents holding about ``chunk_size`` maps."""
    step = max(1, -(-chunk_size // tiles)) * tiles
    for start in range(0, n, step):
        yield start, min(start + step, n)


def _pool(workers: int, n: int, chunk_size: int, tiles: int = TILES_PER_PARENT
          ) -> ThreadPoolExecutor | None:
    parents = min(-(-n // tiles), -(-chunk_size // tiles))
    workers = min(workers, parents)
    return ThreadPoolExecutor(workers, thread_name_prefix="lensval-sim") if workers > 1 else None


# --------------------------------------------------------------------------- public API
def iter_simulate(n: int, split: str = "validation", seed: int = 0,
                  preset: str = DEFAULT_PRESET, chunk_size: int | None = None, *,
                  workers: int | None = None, tiles_per_parent: int = TILES_PER_PARENT
                  ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield simulated maps chunk by chunk.

    Parameters
    ----------
    n : int
        Number of 256^2 maps.
    split : {"train", "validation", "development", "auxiliary"}
        Which split; splits never share a parent map.
    seed : int
        Non-negative seed; with ``split`` and ``preset`` it fixes every map.
    preset : str
        A key of :data:`PRESETS`.
    chunk_size : int, optional
        Maps per block, rounded up to whole parents (16 maps); default
        ``lensval._defaults.CHUNK_SIZE``. Does not change the maps.
    workers : int, optional
        Threads (one parent each); default: the CPUs available. Does not change the maps.
    tiles_per_parent : {16, 4, 1}
        Maps cut from each parent (see :func:`simulate`).

    Returns
    -------
    iterator of (start, block)
        ``start`` (int) is the index of ``block[0]`` in the ensemble; ``block`` is a
        fresh ``(k, 256, 256)`` float32 array of whole parents (the last one cut short
        at ``n``). Arguments are validated when called, not on the first ``next()``.
    """
    # validate now, not on the first next()
    n, split_id, seed, p, chunk_size, workers = _simulate_iv(n, split, seed, preset,
                                                             chunk_size, workers)
    tiles = _check_tiles(tiles_per_parent)
    return _iter_blocks(n, split_id, seed, _spectrum(p.name), chunk_size, workers, tiles)


def _iter_blocks(n: int, split_id: int, seed: int, spec: _Spectrum, chunk_size: int,
                 workers: int, tiles: int = TILES_PER_PARENT
                 ) -> Iterator[tuple[int, np.ndarray]]:
    pool = _pool(workers, n, chunk_size, tiles)
    try:
        for start, stop in _blocks(n, chunk_size, tiles):
            block = np.empty((stop - start, MAP_SIZE, MAP_SIZE), dtype=np.float32)
            _fill(block, start, spec, seed, split_id, pool, tiles)
            yield start, block
    finally:
        if pool is not None:
            pool.shutdown()


def simulate_array(n: int, split: str = "validation", seed: int = 0,
                   preset: str = DEFAULT_PRESET, *, chunk_size: int | None = None,
                   workers: int | None = None, progress: bool | None = False,
                   tiles_per_parent: int = TILES_PER_PARENT) -> np.ndarray:
    """Simulate ``n`` maps as a plain array.

    Parameters are those of :func:`simulate`.

    Returns
    -------
    (n, 256, 256) ndarray of float32
        With 16 tiles per parent, map ``i`` is tile ``i % 16`` (row-major) of parent
        ``i // 16``; with 1, map ``i`` is the first tile of parent ``i``.
    """
    n, split_id, seed, p, chunk_size, workers = _simulate_iv(n, split, seed, preset,
                                                             chunk_size, workers)
    tiles = _check_tiles(tiles_per_parent)
    spec = _spectrum(p.name)
    out = np.empty((n, MAP_SIZE, MAP_SIZE), dtype=np.float32)
    pool = _pool(workers, n, chunk_size, tiles)
    try:
        with progress_bar(n, f"simulate {split}", progress=progress) as bar:
            for start, stop in _blocks(n, chunk_size, tiles):
                _fill(out[start:stop], start, spec, seed, split_id, pool, tiles)
                bar.update(stop - start)
    finally:
        if pool is not None:
            pool.shutdown()
    return out


def simulate(n: int, split: str = "validation", seed: int = 0, preset: str = DEFAULT_PRESET,
             *, chunk_size: int | None = None, workers: int | None = None,
             progress: bool | None = None,
             tiles_per_parent: int = TILES_PER_PARENT) -> xr.DataArray:
    """Simulate a reference ensemble of convergence maps.

    Parameters
    ----------
    n : int
        Number of 256^2 maps (``ceil(n / 16)`` parents of 1024^2 are drawn).
    split : {"train", "validation", "development", "auxiliary"}
        Which split. Each split draws from its own seed stream; no parent (hence no
        correlated tile) is shared between splits.
    seed : int
        Non-negative seed. The same ``(n, split, seed, preset)`` gives the same bits,
        and the first ``m`` maps of a longer run equal an ``m``-map run.
    preset : {"cosmogan", "nominal_zs1", "gaussian"}
        See :data:`PRESETS`. ``cosmogan`` (default) reproduces the paper's figures.
    chunk_size : int, optional
        Maps generated per step (rounded up to 16); bounds the working memory of the
        streaming functions. Does not change the maps.
    workers : int, optional
        Threads, one parent each; default: the CPUs available. Does not change the maps.
    progress : bool, optional
        Show a progress bar (default: only on an interactive terminal).
    tiles_per_parent : {16, 4, 1}
        Maps cut from each 1024^2 parent. 16 (default) uses every tile, like the
        paper's training crops; tiles of one parent share its large-scale modes, so
        they are correlated. 1 gives independent maps (one parent each, 16x the cost):
        use it for sets that two-sample tests treat as independent samples (the
        reference statistics and the simulator generators do).

    Returns
    -------
    xarray.DataArray
        ``kappa(sample, y, x)``, float32, shape ``(n, 256, 256)``, attrs ``angle_deg``
        (sqrt(12)/4), ``source``, ``preset``, ``split``, ``seed``, ``tiles_per_parent``,
        ``lensval_version``.

    Examples
    --------
    >>> import lensval as lv
    >>> maps = lv.simulate(32, split="validation", seed=0)
    >>> maps.shape, str(maps.dtype)
    ((32, 256, 256), 'float32')
    """
    arr = simulate_array(n, split, seed, preset, chunk_size=chunk_size, workers=workers,
                         progress=progress, tiles_per_parent=tiles_per_parent)
    p = preset.name if isinstance(preset, Preset) else preset
    return xr.DataArray(arr, dims=("sample", "y", "x"), name="kappa",
                        attrs=_attrs(split, int(seed), PRESETS[p], int(tiles_per_parent)))


def simulate_to_file(path: str | os.PathLike, n: int, split: str = "validation",
                     seed: int = 0, preset: str = DEFAULT_PRESET,
                     chunk_size: int | None = None, progress: bool | None = None, *,
                     workers: int | None = None,
                     tiles_per_parent: int = TILES_PER_PARENT) -> Path:
    """Simulate ``n`` maps straight to a NetCDF file, one chunk in memory at a time.

    Parameters are those of :func:`simulate`; ``path`` is the output ``.nc``, which
    appears only once complete (atomic rename), so an error or interrupt leaves no file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from lensval.io import MapWriter

    n, _, seed, p, chunk_size, workers = _simulate_iv(n, split, seed, preset, chunk_size,
                                                      workers)
    tiles = _check_tiles(tiles_per_parent)
    attrs = _attrs(split, seed, p, tiles)
    angle = attrs.pop("angle_deg")
    with MapWriter(path, n=n, map_size=MAP_SIZE, angle_deg=angle, attrs=attrs) as writer, \
            progress_bar(n, f"simulate {split}", progress=progress) as bar:
        for _, block in iter_simulate(n, split, seed, p.name, chunk_size, workers=workers,
                                      tiles_per_parent=tiles):
            writer.write(block)
            bar.update(block.shape[0])
    return Path(path)


def _simulate_parents(n_parents: int, split: str = "validation", seed: int = 0,
                      preset: str = DEFAULT_PRESET) -> np.ndarray:
    """The full ``(n_parents, 1024, 1024)`` float64 parents (for tests and diagnostics).

    ``simulate`` maps ``16 p .. 16 p + 15`` are the float32 tiles of parent ``p``.
    """
    n_parents, split_id, seed, p, _, _ = _simulate_iv(n_parents, split, seed, preset)
    spec = _spectrum(p.name)
    return np.stack([_parent(spec, seed, split_id, j) for j in range(n_parents)])
