"""``lensval simulate``: write a reference ensemble from the embedded simulator."""

from __future__ import annotations

import click

from lensval._defaults import CHUNK_SIZE
from lensval.cli import handle_errors

# Kept literal (not imported from lensval.simulator) so that `lensval --help` stays fast;
# tests check that these match SPLIT_IDS and PRESETS.
SPLITS = ("train", "validation", "development", "auxiliary")
PRESET_NAMES = ("cosmogan", "nominal_zs1", "gaussian")


@click.command()
@click.option("--n", "n", type=int, required=True, help="Number of 256^2 maps.")
@click.option("--split", type=click.Choice(SPLITS), default="validation", show_default=True,
              help="Which split (splits never share a parent map).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Non-negative seed.")
@click.option("--preset", type=click.Choice(PRESET_NAMES), default="cosmogan",
              show_default=True,
              help="cosmogan: matches the paper's figures; nominal_zs1: the stated z_s=1; "
                   "gaussian: null control.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=CHUNK_SIZE,
              show_default=True, help="Maps held in memory at a time (does not change them).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Threads (default: all available CPUs; does not change the maps).")
@click.option("--tiles-per-parent", type=click.Choice(["16", "4", "1"]), default="16",
              show_default=True,
              help="Maps cut from each 1024^2 parent: 16 (correlated tiles, cheap) or 1 "
                   "(independent maps, 16x the cost).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Output NetCDF file (written atomically).")
@handle_errors
def simulate(n: int, split: str, seed: int, preset: str, chunk_size: int,
             workers: int | None, tiles_per_parent: str, output: str) -> None:
    """Simulate N shifted-lognormal convergence maps into a NetCDF file.

    Example: lensval simulate --n 1000 --split validation --seed 0 -o val.nc
    """
    from lensval.simulator import simulate_to_file

    path = simulate_to_file(output, n, split=split, seed=seed, preset=preset,
                            chunk_size=chunk_size, workers=workers,
                            tiles_per_parent=int(tiles_per_parent))
    click.echo(f"wrote {n} maps ({preset}, split={split}, seed={seed}) to {path}", err=True)
