"""``summarize``: every summary statistic of an ensemble, as a statistics Dataset."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from lensval import __version__
from lensval._defaults import CHUNK_SIZE
from lensval._progress import progress_bar
from lensval.errors import InputError
from lensval.stats import _engine
from lensval.stats.config import StatsConfig
from lensval.stats.power import _n_modes_eff

__all__ = ["summarize", "SUMMARY_STATS"]

#: what summarize computes, in the engine's names
SUMMARY_STATS = frozenset({"power", "minkowski", "hist", "peaks", "moments"})
# engine output -> (variable name, dims after "sample")
_VARIABLES = {
    "power": ("power", ("ell",)),
    "minkowski": ("minkowski", ("functional", "nu")),
    "hist": ("pixel_hist", ("kappa_bin",)),
    "under": ("pixel_under", ()),
    "over": ("pixel_over", ()),
    "peaks": ("peaks", ("nu_peak",)),
    "moments": ("moments", ("moment",)),
}


def _plan(config: StatsConfig, map_size: int, angle_deg: float) -> _engine.Plan:
    return _engine.make_plan(
        map_size, SUMMARY_STATS, angle_deg=angle_deg, ell_edges=config.ell_edges,
        nu_edges=config.nu_edges, norm=config.norm, periodic=config.periodic,
        kappa_edges=config.kappa_edges, peak_nu_edges=config.peak_nu_edges)


def _config_iv(config: StatsConfig | None, overrides: dict[str, Any]) -> StatsConfig:
    if config is None:
        config = StatsConfig()
    elif not isinstance(config, StatsConfig):
        raise InputError(f"config must be a lensval.StatsConfig, got {type(config).__name__}")
    return config.replace(**overrides) if overrides else config


def summarize(maps: Any, *, config: StatsConfig | None = None, chunk_size: int | None = None,
              progress: bool | None = None, angle_deg: float | None = None,
              **config_overrides: Any) -> xr.Dataset:
    """Compute every summary statistic of a map ensemble (the statistics file contract).

    Maps are read and processed ``chunk_size`` at a time, so peak memory is bounded by
    the chunk, not by the number of maps. A dask-backed DataArray is computed with
    ``xarray.apply_ufunc(..., dask="parallelized")`` on the active scheduler (e.g. a
    ``dask.distributed`` cluster) and gives identical numbers.

    Parameters
    ----------
    maps : (n, N, N) array_like, DataArray ``kappa(sample, y, x)``, Dataset or path
        The ensemble; any real dtype (computed in float64).
    config : StatsConfig, optional
        Edges, thresholds and modes; default ``StatsConfig()``.
    chunk_size : int, optional
        Maps per chunk (default 256). Does not change any number.
    progress : bool, optional
        Show a progress bar (default: only on an interactive terminal).
    angle_deg : float, optional
        Side of one map in degrees; default: the ``angle_deg`` attr of the maps.
    **config_overrides
        Fields of :class:`StatsConfig` to change, e.g. ``norm=False``.

    Returns
    -------
    xarray.Dataset
        - ``power(sample, ell)``: coords ``ell`` (midpoints), ``ell_lo``, ``ell_hi``,
          ``n_modes(ell)`` (Fourier pixels per bin; 0 = empty bin, power 0),
          ``n_modes_eff(ell)``;
        - ``minkowski(sample, functional, nu)``: ``functional = [V0, V1, V2]``,
          coords ``nu``, ``nu_lo``, ``nu_hi``, attr ``nu_units`` ("sigma"/"kappa");
        - ``pixel_hist(sample, kappa_bin)`` (int): coords ``kappa_bin`` (midpoints),
          ``kappa_lo``, ``kappa_hi``; ``pixel_under(sample)``, ``pixel_over(sample)``:
          pixels outside the edges;
        - ``peaks(sample, nu_peak)`` (int counts): coords ``nu_peak``, ``nu_peak_lo``,
          ``nu_peak_hi``;
        - ``moments(sample, moment)``: ``moment = [mean, std, skewness, kurtosis]``
          (ddof=0, excess kurtosis);
        - attrs ``angle_deg``, ``map_size``, ``n_maps``, ``lensval_version``,
          ``config_hash``, ``nu_units`` and the ``stats_*`` parameters
          (:meth:`StatsConfig.from_attrs` rebuilds the config).

    Examples
    --------
    >>> import numpy as np, lensval as lv
    >>> maps = np.random.default_rng(0).normal(0, 0.02, (8, 64, 64))
    >>> ds = lv.summarize(maps, angle_deg=0.866)
    >>> ds.power.dims, ds.minkowski.shape
    (('sample', 'ell'), (8, 3, 19))
    """
    from lensval.io import as_maps

    cfg = _config_iv(config, config_overrides)
    chunk = CHUNK_SIZE if chunk_size is None else chunk_size
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    da = as_maps(maps, angle_deg=angle_deg, check=False, name="maps")
    angle = float(da.attrs["angle_deg"])
    n, map_size = da.sizes["sample"], da.sizes["x"]
    plan = _plan(cfg, map_size, angle)
    if da.chunks is not None:
        results = _summarize_dask(da, plan)
    else:
        results = _engine.allocate(plan, n)
        with progress_bar(n, "summarize", unit="map", progress=progress) as bar:
            for start, block in _iter_chunks(da, int(chunk)):
                res = _engine.compute_block(block, plan, offset=start)
                for key, arr in res.items():
                    results[key][start:start + block.shape[0]] = arr
                bar.update(block.shape[0])
    return _dataset(results, cfg, plan, da, angle)


def _iter_chunks(da: xr.DataArray, chunk: int):
    """``iter_chunks`` with the next chunk read in a background thread (one ahead).

    Reading (and casting) a chunk from disk overlaps with the statistics of the
    previous one; at most two chunks are in memory.
    """
    from concurrent.futures import ThreadPoolExecutor

    from lensval.io import iter_chunks

    # values are checked per sub-batch inside compute_block (cache-hot, in parallel)
    it = iter_chunks(da, chunk, check=False, dtype=np.float64, name="maps")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lensval-read") as reader:
        pending = reader.submit(next, it, None)
        while True:
            item = pending.result()
            if item is None:
                return
            pending = reader.submit(next, it, None)
            yield item


# --------------------------------------------------------------------------- dask
def _block_stats(block: np.ndarray, plan: _engine.Plan) -> tuple[np.ndarray, ...]:
    """apply_ufunc kernel: one dask block ``(k, N, N)`` -> a tuple of statistics."""
    res = _engine.compute_block(np.ascontiguousarray(block, dtype=np.float64), plan)
    return tuple(res[key] for key in _VARIABLES)


def _summarize_dask(da: xr.DataArray, plan: _engine.Plan) -> dict[str, np.ndarray]:
    if len(da.chunksizes.get("y", ())) > 1 or len(da.chunksizes.get("x", ())) > 1:
        da = da.chunk({"y": -1, "x": -1})  # a map must be whole in one block
    sizes = plan.sizes()
    core_dims = [list(_VARIABLES[key][1]) for key in _VARIABLES]
    output_sizes = {}
    for key, (_, dims) in _VARIABLES.items():
        output_sizes.update(zip(dims, sizes[key], strict=True))
    dtypes = plan.dtypes()
    outs = xr.apply_ufunc(
        _block_stats, da, kwargs={"plan": plan},
        input_core_dims=[["y", "x"]], output_core_dims=core_dims,
        dask="parallelized", output_dtypes=[dtypes[k] for k in _VARIABLES],
        dask_gufunc_kwargs={"output_sizes": output_sizes},
    )
    computed = xr.Dataset({key: out for key, out in zip(_VARIABLES, outs, strict=True)}).compute()
    return {key: computed[key].values for key in _VARIABLES}


# --------------------------------------------------------------------------- dataset
def _dataset(res: dict[str, np.ndarray], cfg: StatsConfig, plan: _engine.Plan,
             da: xr.DataArray, angle: float) -> xr.Dataset:
    ell_e, nu_e, k_e, p_e = cfg.ell_edges, cfg.nu_edges, cfg.kappa_edges, cfg.peak_nu_edges
    units = "sigma" if cfg.norm else "kappa"
    sample = (da["sample"].values if "sample" in da.coords
              else np.arange(da.sizes["sample"]))
    coords = {
        "sample": sample,
        "ell": ("ell", 0.5 * (ell_e[:-1] + ell_e[1:]), {"long_name": "multipole bin midpoint"}),
        "ell_lo": ("ell", ell_e[:-1].copy()),
        "ell_hi": ("ell", ell_e[1:].copy()),
        "n_modes": ("ell", plan.hits.copy(), {"long_name": "Fourier pixels per bin"}),
        "n_modes_eff": ("ell", _n_modes_eff(plan.hits, plan.hits_ly0)),
        "functional": ("functional", ["V0", "V1", "V2"]),
        "nu": ("nu", 0.5 * (nu_e[:-1] + nu_e[1:]), {"units": units}),
        "nu_lo": ("nu", nu_e[:-1].copy()),
        "nu_hi": ("nu", nu_e[1:].copy()),
        "kappa_bin": ("kappa_bin", 0.5 * (k_e[:-1] + k_e[1:])),
        "kappa_lo": ("kappa_bin", k_e[:-1].copy()),
        "kappa_hi": ("kappa_bin", k_e[1:].copy()),
        "nu_peak": ("nu_peak", 0.5 * (p_e[:-1] + p_e[1:]), {"units": units}),
        "nu_peak_lo": ("nu_peak", p_e[:-1].copy()),
        "nu_peak_hi": ("nu_peak", p_e[1:].copy()),
        "moment": ("moment", list(_engine.MOMENT_NAMES)),
    }
    docs = {
        "power": {"long_name": "convergence power spectrum", "units": "sr"},
        "minkowski": {"long_name": "Minkowski functionals V0, V1, V2", "nu_units": units},
        "pixel_hist": {"long_name": "pixels per kappa bin ([lo, hi), last bin closed)"},
        "pixel_under": {"long_name": "pixels below kappa_lo[0]"},
        "pixel_over": {"long_name": "pixels above kappa_hi[-1]"},
        "peaks": {"long_name": "peaks (pixels above their 8 neighbours) per height bin",
                  "nu_units": units},
        "moments": {"long_name": "mean, std, skewness, excess kurtosis (ddof=0)"},
    }
    data_vars = {}
    for key, (name, dims) in _VARIABLES.items():
        data_vars[name] = (("sample", *dims), res[key], docs[name])
    attrs = {
        "angle_deg": angle,
        "map_size": int(da.sizes["x"]),
        "n_maps": int(da.sizes["sample"]),
        "lensval_version": __version__,
        "nu_units": units,
        **cfg.to_attrs(),
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
