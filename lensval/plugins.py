"""Generator plug-ins.

A generator is a class deriving from :class:`Generator`, registered under the
entry-point group ``lensval.generators`` in its package's ``pyproject.toml``::

    [project.entry-points."lensval.generators"]
    mygan = "mygan_lensval:MyGAN"

lensval discovers them with :func:`list_generators` (cached); a plug-in that fails to
load is a :class:`RuntimeWarning`, not a crash, and duplicate names are warned about.
:func:`register_generator` adds one at run time (notebooks, tests). The simulator's
presets register the same way (``lognormal``, ``gaussian``), so the null and negative
controls are one command away. See ``docs/plugins.md``.
"""

from __future__ import annotations

import functools
import warnings
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar

import numpy as np

from lensval import _defaults
from lensval.errors import GeneratorNotFoundError, LensvalError

__all__ = [
    "Generator",
    "LognormalGenerator",
    "GaussianGenerator",
    "register_generator",
    "list_generators",
    "get_generator",
    "ENTRY_POINT_GROUP",
]

ENTRY_POINT_GROUP = "lensval.generators"


class Generator:
    """Base class of generator plug-ins.

    Subclasses set :attr:`latent_dim` and :attr:`angle_deg` and implement
    :meth:`decode` (latent vectors -> maps); the default :meth:`sample` draws
    ``z ~ N(0, 1)`` with the given ``numpy.random.Generator`` and decodes it in
    batches of :attr:`batch_size`. Generators without a latent space (simulators)
    override :meth:`sample` instead and leave :meth:`decode` unimplemented.

    Constructors take keyword arguments only; ``checkpoint`` (a path or None for the
    plug-in's default) is passed when the user gives ``--checkpoint``.
    """

    #: Registry name (set by the registry; informative only).
    name: ClassVar[str] = ""
    #: Dimension of the latent vector z (0 if there is none).
    latent_dim: int = 0
    #: Side of one generated map in degrees.
    angle_deg: float = _defaults.ANGLE_DEG
    #: Pixels on a side of one generated map.
    map_size: int = _defaults.MAP_SIZE
    #: Maps generated per call to :meth:`decode` (bounds memory).
    batch_size: int = 64

    def __init__(self, checkpoint: str | None = None, **options: Any) -> None:
        if checkpoint is not None:
            raise LensvalError(f"generator {type(self).__name__} takes no checkpoint")
        if options:
            raise LensvalError(
                f"generator {type(self).__name__} got unknown options {sorted(options)}"
            )

    # -- to implement --------------------------------------------------------------
    def decode(self, z: np.ndarray) -> np.ndarray:
        """Maps ``(n, M, M)`` in kappa units for latent vectors ``z`` ``(n, latent_dim)``."""
        raise NotImplementedError(f"{type(self).__name__} has no latent space (decode)")

    def features(self, maps: np.ndarray) -> np.ndarray | None:
        """Optional learned features ``(n, d)`` of maps (for novelty tests), or None."""
        return None

    # -- provided ------------------------------------------------------------------
    def sample_latent(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Latent vectors ``z ~ N(0, 1)`` of shape ``(n, latent_dim)`` (float32)."""
        return rng.standard_normal((n, self.latent_dim), dtype=np.float32)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` maps ``(n, M, M)`` in kappa units, reproducible for ``rng``'s seed."""
        if self.latent_dim <= 0:
            raise NotImplementedError(f"{type(self).__name__} must implement sample()")
        z = self.sample_latent(n, rng)
        out = [self.decode(z[i:i + self.batch_size]) for i in range(0, n, self.batch_size)]
        return np.concatenate(out, axis=0)

    def iter_batches(self, n: int, rng: np.random.Generator, batch_size: int | None = None):
        """Yield ``(start, maps)`` blocks totalling ``n`` maps (streaming, bounded memory).

        Latents for all ``n`` maps are drawn once up front so the maps do not depend
        on the batch size.
        """
        bs = int(batch_size or self.batch_size)
        if self.latent_dim > 0:
            z = self.sample_latent(n, rng)
            for start in range(0, n, bs):
                yield start, np.asarray(self.decode(z[start:start + bs]))
        else:
            for start, block in self._iter_no_latent(n, rng, bs):
                yield start, block

    def _iter_no_latent(self, n, rng, bs):
        yield 0, np.asarray(self.sample(n, rng))

    def describe(self) -> dict[str, Any]:
        """Provenance attrs recorded with generated maps."""
        return {"generator": self.name or type(self).__name__}


class _SimulatorGenerator(Generator):
    """The embedded simulator as a generator (no latent space).

    Maps are independent (one tile per 1024^2 parent), as a generator's samples are.
    """

    preset: ClassVar[str] = "cosmogan"
    split: ClassVar[str] = "auxiliary"

    def __init__(self, checkpoint: str | None = None, *, split: str | None = None,
                 **options: Any) -> None:
        super().__init__(checkpoint, **options)
        self._split = split or self.split

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        from lensval.simulator import simulate_array

        seed = int(rng.integers(2**63))
        return simulate_array(n, split=self._split, seed=seed, preset=self.preset,
                              tiles_per_parent=1)

    def _iter_no_latent(self, n, rng, bs):
        from lensval.simulator import iter_simulate

        seed = int(rng.integers(2**63))
        yield from iter_simulate(n, split=self._split, seed=seed, preset=self.preset,
                                 chunk_size=max(bs, 1), tiles_per_parent=1)

    def describe(self) -> dict[str, Any]:
        return {"generator": self.name, "preset": self.preset, "split": self._split}


class LognormalGenerator(_SimulatorGenerator):
    """The reference lognormal simulator (``cosmogan`` preset): the null control."""

    preset = "cosmogan"


class GaussianGenerator(_SimulatorGenerator):
    """A Gaussian field with the same spectrum: the negative control."""

    preset = "gaussian"


# --------------------------------------------------------------------------- registry
_REGISTERED: dict[str, type[Generator]] = {}


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found and found[ep.name].value != ep.value:
            warnings.warn(
                f"lensval generator {ep.name!r} is registered twice "
                f"({found[ep.name].value} and {ep.value}); using the first",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        found[ep.name] = ep
    return found


def _load(name: str, ep: EntryPoint) -> type[Generator] | None:
    try:
        cls = ep.load()
    except Exception as exc:  # a broken plug-in must not take lensval down
        warnings.warn(
            f"lensval generator plug-in {name!r} ({ep.value}) failed to load: "
            f"{type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    if not (isinstance(cls, type) and issubclass(cls, Generator)):
        warnings.warn(
            f"lensval generator plug-in {name!r} ({ep.value}) is not a lensval.Generator "
            "subclass; ignored",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return cls


@functools.lru_cache(maxsize=1)
def _loaded() -> dict[str, type[Generator]]:
    out = {}
    for name, ep in _entry_points().items():
        cls = _load(name, ep)
        if cls is not None:
            out[name] = cls
    return out


def _clear_cache() -> None:
    """Forget discovered plug-ins (after installing one, or in tests)."""
    _entry_points.cache_clear()
    _loaded.cache_clear()


def register_generator(name: str, cls: type[Generator], *, overwrite: bool = False) -> None:
    """Register a generator class at run time (notebooks, tests)."""
    if not (isinstance(cls, type) and issubclass(cls, Generator)):
        raise TypeError("register_generator needs a lensval.Generator subclass")
    if not overwrite and (name in _REGISTERED or name in _entry_points()):
        warnings.warn(f"lensval generator {name!r} already exists; replacing it",
                      RuntimeWarning, stacklevel=2)
    _REGISTERED[name] = cls


def list_generators() -> dict[str, type[Generator]]:
    """Installed generators: ``{name: class}`` (entry points, then run-time registrations).

    Plug-ins are imported here; a plug-in module must therefore import heavy
    dependencies (torch) lazily, inside its methods.
    """
    return {**_loaded(), **_REGISTERED}


def get_generator(name: str | type[Generator] | Generator, **options: Any) -> Generator:
    """Instantiate a generator by registry name (or pass through a class/instance)."""
    if isinstance(name, Generator):
        return name
    if isinstance(name, type) and issubclass(name, Generator):
        gen = name(**options)
    else:
        available = list_generators()
        if name not in available:
            names = ", ".join(sorted(available)) or "none"
            raise GeneratorNotFoundError(
                f"unknown generator {name!r}; installed: {names} "
                "(see `lensval generators`)"
            )
        gen = available[name](**options)
        gen.name = name
    return gen
