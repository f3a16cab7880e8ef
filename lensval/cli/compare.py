"""``lensval compare``: two ensembles (maps or statistics) in, a verdict table out."""

from __future__ import annotations

import click

from lensval import _defaults
from lensval.cli import handle_errors


def result_options(func):
    """Options shared by ``compare`` and ``score``."""
    for opt in reversed([
        click.option("--method", type=click.Choice(["permutation", "bootstrap", "asymptotic"]),
                     default="permutation", show_default=True,
                     help="How p-values are computed (permutation is calibrated)."),
        click.option("--n-resamples", type=click.IntRange(1), default=_defaults.N_RESAMPLES,
                     show_default=True, help="Permutations / bootstrap resamples."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of the resampling (and of generation, for score)."),
        click.option("--report", "report_dir", type=click.Path(file_okay=False),
                     default=None, help="Write an HTML report with figures into DIR."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table."),
        click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
                     help="Also write the per-column results to a NetCDF file."),
    ]):
        func = opt(func)
    return func


def emit(res, as_json: bool, output: str | None, report_dir: str | None, title: str) -> None:
    # the report first: if it fails, no other output has been written
    if report_dir:
        page = res.report(report_dir, title=title)
        click.echo(f"report: {page}", err=True)
    if output:
        res.to_netcdf(output)
    click.echo(res.to_json() if as_json else res.table())


@click.command()
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@click.option("--aux", type=click.Path(dir_okay=False), default=None,
              help="Independent reference set: the yardstick for the correlation matrices.")
@click.option("--angle-deg", type=float, default=None,
              help="Map side in degrees for .npy inputs (default: from the other input).")
@result_options
@handle_errors
def compare(a, b, aux, angle_deg, method, n_resamples, seed, report_dir, as_json, output):
    """Compare ensemble B (e.g. generated) with reference A, family by family.

    A and B are map files (.nc, .npy, .npz) or statistics files (`lensval summarize`).
    Exit status is 0 whether or not they agree (the verdict is data).
    """
    from lensval.comparison import compare as _compare

    res = _compare(a, b, aux=aux, method=method, n_resamples=n_resamples, rng=seed,
                   angle_deg=angle_deg)
    emit(res, as_json, output, report_dir, title=f"lensval compare {a} {b}")
