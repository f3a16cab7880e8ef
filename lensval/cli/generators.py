"""``lensval generators``: list the installed generator plug-ins."""

from __future__ import annotations

import json as _json

import click

from lensval.cli import handle_errors


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def generators(as_json: bool) -> None:
    """List installed generator plug-ins (entry-point group ``lensval.generators``)."""
    from lensval.plugins import _entry_points, list_generators

    gens = list_generators()
    eps = _entry_points()
    rows = []
    for name, cls in sorted(gens.items()):
        doc = (cls.__doc__ or "").strip().splitlines()
        rows.append({
            "name": name,
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "source": "entry point" if name in eps else "registered",
            "latent_dim": int(getattr(cls, "latent_dim", 0)),
            "description": doc[0] if doc else "",
        })
    if as_json:
        click.echo(_json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No generator plug-ins installed.")
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['description']}  [{r['class']}]")
