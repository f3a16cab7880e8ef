"""``lensval reference``: build or inspect the shipped reference statistics."""

from __future__ import annotations

import click

from lensval.cli import handle_errors


@click.group()
def reference():
    """Reference statistics of the simulator's validation/auxiliary splits."""


@reference.command("build")
@click.option("--set", "names", multiple=True,
              type=click.Choice(["validation", "auxiliary", "development"]),
              help="Which set(s) (default: the shipped ones).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: the user cache; the repository's reference_stats/ "
                   "to refresh the shipped files).")
@handle_errors
def build(names, out_dir):
    """Simulate and summarise the reference sets."""
    from lensval.reference import SHIPPED, build_reference

    for name in names or SHIPPED:
        path = build_reference(name, out_dir)
        click.echo(f"wrote {path}")


@reference.command("show")
@handle_errors
def show():
    """Where the reference statistics come from and whether they are current."""
    import xarray as xr

    from lensval.reference import RECIPES, _mismatch, _shipped_dir

    for name in RECIPES:
        path = _shipped_dir() / f"{name}.nc"
        if not path.exists():
            click.echo(f"{name:<12} not shipped (built on demand into the cache)")
            continue
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            bad = _mismatch(ds, name)
            click.echo(f"{name:<12} {path}  {ds.sizes['sample']} maps  "
                       f"{'current' if not bad else 'STALE: ' + '; '.join(bad)}")
