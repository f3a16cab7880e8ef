"""``StatsConfig``: every parameter that changes the numbers of a statistics file."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from lensval import _defaults
from lensval.errors import InputError

__all__ = ["StatsConfig", "check_edges"]

_EDGE_FIELDS = ("ell_edges", "nu_edges", "kappa_edges", "peak_nu_edges")
_ATTR_PREFIX = "stats_"
_SCHEMA = 1
_DTYPES = ("float64",)


def check_edges(edges: Any, name: str, *, min_edges: int = 2) -> np.ndarray:
    """Return ``edges`` as a read-only float64 array, or raise :class:`InputError`.

    Edges must be finite and strictly increasing, with at least ``min_edges`` entries.
    """
    try:
        arr = np.array(edges, dtype=np.float64).reshape(-1) if edges is not None else None
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a sequence of numbers, got {edges!r}") from None
    if arr is None or arr.size < min_edges:
        raise InputError(f"{name} needs at least {min_edges} edges")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or inf")
    if np.any(np.diff(arr) <= 0):
        raise InputError(f"{name} must be strictly increasing")
    arr.setflags(write=False)
    return arr


@dataclasses.dataclass(frozen=True, eq=False)
class StatsConfig:
    """Configuration of :func:`lensval.summarize`: edges, thresholds, modes.

    Two statistics files are comparable only if their configs are equal, which is
    decided by :meth:`config_hash` (equality and hashing use it too).

    Parameters
    ----------
    ell_edges : (n_ell + 1,) array_like
        Multipole bin edges of the power spectrum; bins are ``(e_k, e_k+1]``.
        Default ``arange(200, 50000, 200)``: 248 bins.
    nu_edges : (n_nu + 1,) array_like
        Minkowski threshold edges; default ``linspace(-2.0, 1.8, 20)``: 19 bins.
    norm : bool
        ``True``: ``nu_edges`` and ``peak_nu_edges`` are in units of each map's
        standard deviation (the paper's choice); ``False``: in kappa units (then pass
        kappa-unit ``nu_edges`` and ``peak_nu_edges`` too: the defaults are in sigma).
    kappa_edges : (n_kappa + 1,) array_like
        Shared pixel-histogram edges in kappa; default ``linspace(-0.10, 1.20, 131)``.
    peak_nu_edges : (n_peak + 1,) array_like
        Peak-height edges (same units as ``nu_edges``); default ``linspace(-2, 8, 21)``.
    periodic : bool
        ``True`` (LensTools-compatible): stencils and peak neighbourhoods wrap around.
        ``False``: pixels whose stencil would wrap are left out (2-pixel border for
        Minkowski functionals, 1 pixel for peaks). The power spectrum is the same.
    dtype : str
        Precision of every computation. Only ``"float64"`` (bit-compatible with
        LensTools) is supported; recorded so that files say how they were made.
    """

    ell_edges: np.ndarray = dataclasses.field(default_factory=_defaults.default_ell_edges)
    nu_edges: np.ndarray = dataclasses.field(default_factory=_defaults.default_nu_edges)
    norm: bool = True
    kappa_edges: np.ndarray = dataclasses.field(default_factory=_defaults.default_kappa_edges)
    peak_nu_edges: np.ndarray = dataclasses.field(
        default_factory=_defaults.default_peak_nu_edges)
    periodic: bool = True
    dtype: str = "float64"

    def __post_init__(self) -> None:
        for name in _EDGE_FIELDS:
            object.__setattr__(self, name, check_edges(getattr(self, name), name))
        for name in ("norm", "periodic"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_, int, np.integer)) or value not in (0, 1):
                raise InputError(f"{name} must be True or False, got {value!r}")
            object.__setattr__(self, name, bool(value))
        dtype = np.dtype(self.dtype).name if self.dtype is not None else None
        if dtype not in _DTYPES:
            raise InputError(
                f"dtype={self.dtype!r} is not supported: statistics are computed in float64 "
                "(bit-compatible with LensTools)"
            )
        object.__setattr__(self, "dtype", dtype)

    # ------------------------------------------------------------------ identity
    def _canonical(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": _SCHEMA}
        for name in _EDGE_FIELDS:
            out[name] = [float(v).hex() for v in getattr(self, name)]
        out.update(norm=self.norm, periodic=self.periodic, dtype=self.dtype)
        return out

    def config_hash(self) -> str:
        """SHA-256 (hex) of a canonical JSON of every field (edges as exact float64 hex)."""
        text = json.dumps(self._canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatsConfig):
            return NotImplemented
        return self.config_hash() == other.config_hash()

    def __hash__(self) -> int:
        return hash(self.config_hash())

    def replace(self, **changes: Any) -> StatsConfig:
        """A copy with some fields changed; unknown names raise :class:`InputError`."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            known = ", ".join(f.name for f in dataclasses.fields(self))
            raise InputError(f"unknown statistics option(s) {', '.join(unknown)}; known: {known}")
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """One line naming the binning (for messages)."""
        unit = "sigma" if self.norm else "kappa"
        return (f"{self.ell_edges.size - 1} ell bins, {self.nu_edges.size - 1} nu bins ({unit}), "
                f"{self.kappa_edges.size - 1} kappa bins, {self.peak_nu_edges.size - 1} peak "
                f"bins, {'periodic' if self.periodic else 'non-periodic'}, {self.dtype}")

    # ------------------------------------------------------------------ attrs
    def to_attrs(self) -> dict[str, Any]:
        """NetCDF-safe attributes (``stats_*`` and ``config_hash``) that round-trip."""
        attrs: dict[str, Any] = {f"{_ATTR_PREFIX}{n}": np.array(getattr(self, n))
                                 for n in _EDGE_FIELDS}
        attrs[f"{_ATTR_PREFIX}norm"] = int(self.norm)
        attrs[f"{_ATTR_PREFIX}periodic"] = int(self.periodic)
        attrs[f"{_ATTR_PREFIX}dtype"] = self.dtype
        attrs["config_hash"] = self.config_hash()
        return attrs

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> StatsConfig:
        """Rebuild the config from :meth:`to_attrs` output (e.g. ``ds.attrs``).

        Raises :class:`InputError` if a field is missing or the stored ``config_hash``
        does not match the stored parameters.
        """
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            key = f"{_ATTR_PREFIX}{f.name}"
            if key not in attrs:
                raise InputError(
                    f"statistics attrs lack {key!r}: not written by lensval.summarize; "
                    "recompute the statistics"
                )
            value = attrs[key]
            if f.name in ("norm", "periodic"):
                value = bool(int(value))
            elif f.name == "dtype":
                value = str(value)
            kwargs[f.name] = value
        config = cls(**kwargs)
        stored = attrs.get("config_hash")
        if stored is not None and str(stored) != config.config_hash():
            raise InputError(
                "config_hash does not match the stored statistics parameters (the file was "
                "edited or is corrupt): recompute the statistics"
            )
        return config
