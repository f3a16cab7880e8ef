"""The ``lensval`` command line: a thin mirror of the library.

Each command lives in its own module here and imports the library lazily inside the
command, so ``lensval --help`` is fast. Errors a user can cause print one line and exit
with status 2; they never show a traceback.
"""

from __future__ import annotations

import functools
import importlib
import sys

import click

from lensval import __version__

# command name -> module:function (each a click.Command)
_COMMANDS = {
    "simulate": "lensval.cli.simulate:simulate",
    "summarize": "lensval.cli.summarize:summarize",
    "compare": "lensval.cli.compare:compare",
    "score": "lensval.cli.score:score",
    "train": "lensval.cli.train:train",
    "reference": "lensval.cli.reference:reference",
    "generators": "lensval.cli.generators:generators",
    "novelty": "lensval.cli.novelty:novelty",
    "birthday": "lensval.cli.novelty:birthday",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(_COMMANDS)

    def get_command(self, ctx, name):
        target = _COMMANDS.get(name)
        if target is None:
            return None
        mod, attr = target.split(":")
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:  # this command is not part of this build
                return None
            raise
        return getattr(module, attr)


def handle_errors(func):
    """Turn lensval's user-facing errors into a one-line message and exit status 2."""
    from lensval.errors import LensvalError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except LensvalError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lensval")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def main(quiet: bool) -> None:
    """Validate generative models of weak-lensing convergence maps."""
    import warnings

    def _one_line(message, category, filename, lineno, file=None, line=None):
        click.echo(f"Warning: {message}", err=True)

    warnings.showwarning = _one_line
    if quiet:
        from lensval._progress import set_quiet

        set_quiet(True)
