"""Progress bars: to stderr, silent when asked or when stderr is not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence (or re-enable) every progress bar in this process."""
    global _QUIET
    _QUIET = bool(quiet)


def _enabled(progress: bool | None) -> bool:
    if _QUIET or progress is False:
        return False
    if progress is True:
        return True
    return sys.stderr.isatty()


@contextmanager
def progress_bar(total: int | None, desc: str, unit: str = "map",
                 progress: bool | None = None) -> Iterator:
    """A tqdm bar (or a no-op stand-in) used as ``with progress_bar(n, "x") as bar: bar.update(k)``.

    ``progress=None`` shows the bar only on an interactive stderr.
    """
    if not _enabled(progress):
        yield _NullBar()
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
               leave=False)
    try:
        yield bar
    finally:
        bar.close()


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def set_description(self, *args, **kwargs) -> None:
        pass
