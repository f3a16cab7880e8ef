"""``lensval score``: generate with a plug-in and compare with the reference statistics."""

from __future__ import annotations

import click

from lensval import _defaults
from lensval.cli import handle_errors
from lensval.cli.compare import emit, result_options


@click.command()
@click.option("--generator", "-g", required=True,
              help="Generator plug-in name (see `lensval generators`).")
@click.option("--n", type=click.IntRange(2), default=_defaults.N_SCORE, show_default=True,
              help="Number of maps to generate.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Generator checkpoint (default: the plug-in's shipped one).")
@click.option("--reference", default="validation", show_default=True,
              help="Reference set (validation, development) or a maps/statistics file.")
@click.option("--aux", default="auxiliary", show_default=True,
              help="Yardstick set for the correlation matrices ('none' to skip).")
@click.option("--batch-size", type=click.IntRange(1), default=None,
              help="Maps generated per batch (memory).")
@result_options
@handle_errors
def score(generator, n, checkpoint, reference, aux, batch_size, method, n_resamples, seed,
          report_dir, as_json, output):
    """Generate N maps with GENERATOR and score them against the simulations."""
    from lensval.scoring import score as _score

    res = _score(generator, n, checkpoint=checkpoint, seed=seed, reference=reference,
                 aux=None if aux.lower() == "none" else aux, method=method,
                 n_resamples=n_resamples, batch_size=batch_size)
    meta = res.meta
    click.echo(
        f"{meta['generator']}: {n} maps generated and summarised in "
        f"{meta['generate_and_summarize_s']} s ({meta['maps_per_s']} maps/s); "
        f"total {meta['wall_s']} s, peak memory {meta['peak_rss_mb']} MB", err=True)
    emit(res, as_json, output, report_dir, title=f"lensval score: {generator} (n = {n})")
