"""``lensval novelty`` and ``lensval birthday``: is the generator making new maps?"""

from __future__ import annotations

import time
from pathlib import Path

import click

from lensval import _defaults
from lensval.cli import handle_errors
from lensval.cli.compare import emit

# The library's defaults, repeated here as literals only where click needs them before
# the library is imported; test_novelty checks they agree with lensval.novelty.
N_NOVELTY = 1000
N_TRAIN = 8000
N_REFERENCE = 1000
BATCH_SIZE = 1024
N_BATCHES = 10


def _load_generator(name: str, checkpoint: str | None):
    from lensval.plugins import get_generator

    return get_generator(name, **({"checkpoint": checkpoint} if checkpoint else {}))


@click.command()
@click.option("--generator", "-g", required=True,
              help="Generator plug-in name (see `lensval generators`).")
@click.option("--n", type=click.IntRange(1), default=N_NOVELTY, show_default=True,
              help="Maps to generate.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Generator checkpoint (default: the plug-in's shipped one).")
@click.option("--train", "training", type=click.Path(dir_okay=False, exists=True),
              default=None, help="Training maps (default: the simulator's train split, "
              "seed 0, --n-train maps).")
@click.option("--n-train", type=click.IntRange(1), default=N_TRAIN, show_default=True,
              help="Simulated training maps when --train is not given.")
@click.option("--reference", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Held-out real maps for the verdict (default: the simulator's "
              "validation split, seed 0, --n-reference maps).")
@click.option("--n-reference", type=click.IntRange(1), default=N_REFERENCE,
              show_default=True, help="Simulated held-out maps when --reference is not given.")
@click.option("--space", "spaces", multiple=True,
              type=click.Choice(["pixel", "power", "features"]),
              help="Distance space(s); repeat the flag. Default: pixel, power, and features "
              "when the generator has them.")
@click.option("--n-paths", type=click.IntRange(0), default=8, show_default=True,
              help="Latent slerp paths (0: skip).")
@click.option("--n-steps", type=click.IntRange(3), default=16, show_default=True,
              help="Maps per latent path.")
@click.option("--chunk-size", type=click.IntRange(1), default=_defaults.CHUNK_SIZE,
              show_default=True, help="Maps per block (memory only).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of generation and of the latent paths.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Write the figures (PNG montages, histograms) into DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Also write the results to a NetCDF file (one group per check).")
@handle_errors
def novelty(generator, n, checkpoint, training, n_train, reference, n_reference, spaces,
            n_paths, n_steps, chunk_size, seed, report_dir, as_json, output):
    """Nearest training maps of N generated maps, and smoothness along latent paths.

    The verdict per space says whether generated maps sit closer to the training set
    than held-out real maps do (docs/novelty.md). Exit status is 0 either way.
    """
    from lensval.novelty import check_novelty

    gen = _load_generator(generator, checkpoint)
    t0 = time.perf_counter()
    res = check_novelty(gen, n, training=training, reference=reference, n_train=n_train,
                        n_reference=n_reference, spaces=list(spaces) or None,
                        n_paths=n_paths, n_steps=n_steps, rng=seed, chunk_size=chunk_size,
                        report=report_dir)
    click.echo(f"novelty: {time.perf_counter() - t0:.1f} s", err=True)
    if report_dir:
        click.echo(f"figures: {Path(report_dir)}", err=True)
    emit(res, as_json, output, None, title="")


@click.command()
@click.option("--generator", "-g", default=None,
              help="Generator plug-in name (see `lensval generators`).")
@click.option("--maps", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Generated maps instead of a generator (cut into batches).")
@click.option("--checkpoint", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Generator checkpoint (default: the plug-in's shipped one).")
@click.option("--batch-size", type=click.IntRange(2), default=BATCH_SIZE, show_default=True,
              help="s, maps per batch (the paper used 32768).")
@click.option("--space", type=click.Choice(["power", "pixel", "features"]), default="power",
              show_default=True, help="Distance space.")
@click.option("--n-batches", type=click.IntRange(1), default=None,
              help=f"Batches [default: {N_BATCHES} for a generator, all for --maps].")
@click.option("--real", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Real maps that set the duplicate threshold (default: the simulator's "
              "validation split, seed 0).")
@click.option("--n-real", type=click.IntRange(2), default=None,
              help="Real maps used [default: 2 x batch size].")
@click.option("--angle-deg", type=float, default=None,
              help="Map side in degrees for .npy inputs.")
@click.option("--chunk-size", type=click.IntRange(1), default=1024, show_default=True,
              help="Rows per block (memory only).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of generation.")
@click.option("--scheduler", default=None,
              help="Run on dask.distributed: a scheduler address, or 'local' for a "
              "LocalCluster (needs the dask extra).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Write a figure (closest pair per batch vs threshold) into DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Also write the results to a NetCDF file.")
@handle_errors
def birthday(generator, maps, checkpoint, batch_size, space, n_batches, real, n_real,
             angle_deg, chunk_size, seed, scheduler, report_dir, as_json, output):
    """Birthday-paradox test: near-duplicate pairs in batches of generated maps.

    Estimates how many distinct maps the generator makes (Arora & Zhang 2017).
    Exit status is 0 whether or not it finds collapse.
    """
    from lensval.errors import InputError
    from lensval.novelty import birthday_test

    if (generator is None) == (maps is None):
        raise InputError("give exactly one of --generator NAME and --maps FILE")
    gen = None
    if generator is not None:
        gen = _load_generator(generator, checkpoint)
    client = _client(scheduler) if scheduler else None
    t0 = time.perf_counter()
    try:
        res = birthday_test(gen if gen is not None else maps, batch_size, space,
                            n_batches=n_batches, real=real, n_real=n_real, rng=seed,
                            angle_deg=angle_deg, chunk_size=chunk_size, client=client)
    finally:
        if client is not None:
            client.close()
    click.echo(f"birthday: {time.perf_counter() - t0:.1f} s", err=True)
    if report_dir:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        png = res.plot(Path(report_dir) / f"birthday_{space}.png")
        click.echo(f"figure: {png}", err=True)
    emit(res, as_json, output, None, title="")


def _client(scheduler: str):
    from lensval.errors import InputError

    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask.distributed: pip install 'lensval[dask]'") \
            from None
    if scheduler == "local":
        return Client(processes=False)  # an in-process cluster, closed with the client
    return Client(scheduler)
