"""``lensval summarize``: summary statistics of a map file into a statistics file."""

from __future__ import annotations

import click

from lensval._defaults import CHUNK_SIZE
from lensval.cli import handle_errors

_EDGES_HELP = ("Edges as 'START:STOP:NUM' (numpy.linspace), a comma-separated list, or a "
               ".npy/.txt file.")


def parse_edges(spec: str | None, name: str):
    """Parse an edges option (see ``_EDGES_HELP``); ``None`` stays ``None`` (the default)."""
    import os

    import numpy as np

    from lensval.errors import InputError

    if spec is None:
        return None
    text = spec.strip()
    try:
        if os.path.isfile(text):
            return np.load(text) if text.endswith(".npy") else np.loadtxt(text, ndmin=1)
        if text.count(":") == 2:
            start, stop, num = text.split(":")
            return np.linspace(float(start), float(stop), int(num))
        return np.array([float(v) for v in text.split(",") if v.strip()])
    except (ValueError, OSError) as exc:
        raise InputError(f"--{name.replace('_', '-')} {spec!r}: {exc}; "
                         "use START:STOP:NUM, a comma-separated list or a file") from None


@click.command()
@click.argument("maps", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Output statistics NetCDF file (written atomically).")
@click.option("--angle-deg", type=float, default=None,
              help="Side of one map in degrees (needed for .npy/.npz input; CosmoGAN: 0.866).")
@click.option("--chunk-size", type=click.IntRange(min=1), default=CHUNK_SIZE,
              show_default=True, help="Maps in memory at a time (does not change the numbers).")
@click.option("--norm/--no-norm", default=True, show_default=True,
              help="Minkowski and peak thresholds in units of each map's sigma (or kappa).")
@click.option("--periodic/--no-periodic", default=True, show_default=True,
              help="Periodic stencils (LensTools) or leave out the border pixels.")
@click.option("--ell-edges", default=None, help="Power-spectrum multipole edges. " + _EDGES_HELP)
@click.option("--nu-edges", default=None, help="Minkowski threshold edges. " + _EDGES_HELP)
@click.option("--kappa-edges", default=None, help="Pixel-histogram edges. " + _EDGES_HELP)
@click.option("--peak-nu-edges", default=None, help="Peak-height edges. " + _EDGES_HELP)
@handle_errors
def summarize(maps: str, output: str, angle_deg: float | None, chunk_size: int, norm: bool,
              periodic: bool, ell_edges: str | None, nu_edges: str | None,
              kappa_edges: str | None, peak_nu_edges: str | None) -> None:
    """Compute power spectra, Minkowski functionals, pixel histograms, peak counts and
    moments of every map in MAPS (.nc, .npy, .npz, FITS) and write them to a NetCDF file.

    Example: lensval summarize val.nc -o val_stats.nc
    """
    from lensval.io import open_maps, save_dataset
    from lensval.stats import StatsConfig
    from lensval.stats import summarize as summarize_maps

    overrides = {"norm": norm, "periodic": periodic}
    for name, spec in (("ell_edges", ell_edges), ("nu_edges", nu_edges),
                       ("kappa_edges", kappa_edges), ("peak_nu_edges", peak_nu_edges)):
        edges = parse_edges(spec, name)
        if edges is not None:
            overrides[name] = edges
    config = StatsConfig(**overrides)
    da = open_maps(maps, angle_deg=angle_deg)
    ds = summarize_maps(da, config=config, chunk_size=chunk_size)
    ds.attrs["source_file"] = str(maps)
    save_dataset(ds, output)
    click.echo(f"wrote statistics of {ds.sizes['sample']} maps ({config.describe()}) "
               f"to {output}", err=True)
