"""``score``: generate with a plug-in, summarise in a stream, compare with the reference.

The pipeline is ``generator -> maps (batches) -> summary statistics -> compare`` with the
reference statistics of the simulator's validation split (and the auxiliary split as
the correlation yardstick). Only one batch of maps is in memory at a time.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np
import xarray as xr

from lensval.errors import ConfigMismatchError, InputError

__all__ = ["score", "generate_stats"]


def generate_stats(generator, n: int, *, config=None, rng=0, batch_size: int | None = None,
                   progress: bool | None = None) -> xr.Dataset:
    """Summary statistics of ``n`` maps drawn from ``generator``, streamed in batches.

    Parameters
    ----------
    generator : lensval.plugins.Generator
    n : int
    config : lensval.stats.StatsConfig, optional
    rng : int or numpy.random.Generator
        Seed of the generator's latent draws.
    batch_size : int, optional
        Maps per batch (memory); the maps do not depend on it.

    Returns
    -------
    xarray.Dataset
        The statistics file contract, with provenance attrs of the generator.
    """
    from lensval._progress import progress_bar
    from lensval.io import as_maps, check_finite
    from lensval.stats import StatsConfig, summarize

    cfg = config if config is not None else StatsConfig()
    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    parts = []
    with progress_bar(n, f"generate + summarise ({getattr(generator, 'name', '') or 'generator'})",
                      progress=progress) as bar:
        for start, block in generator.iter_batches(n, gen, batch_size):
            block = np.asarray(block)
            if block.ndim != 3 or block.shape[1] != block.shape[2]:
                raise InputError(f"generator returned maps of shape {block.shape}; expected "
                                 "(n, M, M)")
            check_finite(block, start, "generated maps")
            maps = as_maps(block, angle_deg=generator.angle_deg, check=False)
            parts.append(summarize(maps, config=cfg, progress=False))
            bar.update(block.shape[0])
    ds = xr.concat(parts, dim="sample", combine_attrs="override") if len(parts) > 1 else parts[0]
    if "sample" in ds.coords:  # each batch numbered its maps from 0
        ds = ds.assign_coords(sample=np.arange(ds.sizes["sample"]))
    if ds.sizes["sample"] != n:
        raise InputError(f"generator produced {ds.sizes['sample']} maps, {n} were asked for")
    ds.attrs.update({f"generator_{k}": str(v) for k, v in generator.describe().items()})
    return ds


def score(generator: Any, n: int = 6400, *, checkpoint: str | None = None, seed: int = 0,
          reference: Any = "validation", aux: Any = "auxiliary",
          method: str = "permutation", n_resamples: int = 1000,
          batch_size: int | None = None, report: str | None = None,
          progress: bool | None = None, generator_options: dict | None = None):
    """Score a generator against the reference simulations, the paper's way.

    Parameters
    ----------
    generator : str, Generator class or instance
        A registry name (``lensval generators`` lists them), e.g. ``"dcgan"``.
    n : int
        Number of maps to generate (the paper: 6400).
    checkpoint : str, optional
        Checkpoint path for the generator (default: the plug-in's own).
    seed : int
        Seed of both the latent draws and the resampling tests.
    reference, aux : str or statistics or maps
        The reference set (a shipped reference name, or anything :func:`compare`
        accepts) and the auxiliary yardstick (None to skip).
    method, n_resamples : see :func:`lensval.compare`.
    batch_size : int, optional
        Maps generated per batch.
    report : str, optional
        Folder for the HTML report.

    Returns
    -------
    lensval.ComparisonResult
        With ``meta`` holding the generator, n, wall time, maps/s and peak memory.
    """
    from lensval.plugins import get_generator

    if int(n) < 2:
        raise InputError("n must be at least 2 maps")
    opts = dict(generator_options or {})
    if checkpoint is not None:
        opts["checkpoint"] = checkpoint
    gen = get_generator(generator, **opts)

    from lensval.comparison import compare
    from lensval.reference import RECIPES, reference_stats
    from lensval.stats import StatsConfig

    ref = reference_stats(reference, progress=progress) if isinstance(reference, str) and \
        reference in RECIPES else reference
    aux_ds = reference_stats(aux, progress=progress) if isinstance(aux, str) and \
        aux in RECIPES else aux

    cfg = StatsConfig.from_attrs(ref.attrs) if isinstance(ref, xr.Dataset) else StatsConfig()
    if isinstance(ref, xr.Dataset):
        ms, ang = int(ref.attrs.get("map_size", gen.map_size)), float(ref.attrs["angle_deg"])
        if ms != gen.map_size or not np.isclose(ang, gen.angle_deg, rtol=1e-6):
            raise ConfigMismatchError(
                f"generator {gen.name!r} makes {gen.map_size}^2 maps of {gen.angle_deg:.4f} deg; "
                f"the reference has {ms}^2 maps of {ang:.4f} deg: pass a matching --reference"
            )

    t0 = time.perf_counter()
    gen_stats = generate_stats(gen, int(n), config=cfg, rng=seed, batch_size=batch_size,
                               progress=progress)
    t_gen = time.perf_counter() - t0
    res = compare(ref, gen_stats, aux=aux_ds, method=method, n_resamples=n_resamples,
                  rng=seed, config=cfg, progress=progress)
    wall = time.perf_counter() - t0
    res.meta.update({
        "generator": gen.name or type(gen).__name__,
        **{f"generator_{k}": str(v) for k, v in gen.describe().items()},
        "n_generated": int(n),
        "generate_and_summarize_s": round(t_gen, 2),
        "maps_per_s": round(n / t_gen, 1),
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    })
    if report is not None:
        res.report(report, title=f"lensval score: {res.meta['generator']} (n = {n})")
    return res
