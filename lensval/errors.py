"""Exceptions raised by lensval.

Every error a user can cause (bad input, mismatched configuration, unknown generator,
untrusted checkpoint) is a :class:`LensvalError` whose message is one line that says
what is wrong and what to do. The CLI prints that line and exits non-zero; it never
shows a traceback for these.
"""

from __future__ import annotations

__all__ = [
    "LensvalError",
    "InputError",
    "ConfigMismatchError",
    "GeneratorNotFoundError",
    "CheckpointError",
]


class LensvalError(Exception):
    """Base class of lensval's user-facing errors (one-line messages)."""


class InputError(LensvalError, ValueError):
    """Input maps or statistics are malformed (shape, NaN, geometry, unreadable file)."""


class ConfigMismatchError(LensvalError, ValueError):
    """Two inputs were made with different geometry or statistics configuration."""


class GeneratorNotFoundError(LensvalError, KeyError):
    """No generator plug-in of the requested name is installed."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(LensvalError, ValueError):
    """A generator checkpoint is corrupt, untrusted or incompatible."""
