"""lensval: validate generative models of weak-lensing convergence maps.

The pipeline is ``maps -> summary statistics (cached) -> two-sample tests -> verdict``::

    import lensval as lv
    maps = lv.simulate(n=1000, split="validation", seed=0)   # DataArray (sample, y, x)
    stats = lv.summarize(maps)                                # Dataset (the file contract)
    res = lv.compare(lv.reference_stats(), my_maps)           # ComparisonResult
    print(res.table())

Submodules are imported on first use, so ``import lensval`` stays fast and never
imports torch, ROOT or dask.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # errors
    "LensvalError": "lensval.errors",
    "InputError": "lensval.errors",
    "ConfigMismatchError": "lensval.errors",
    "GeneratorNotFoundError": "lensval.errors",
    "CheckpointError": "lensval.errors",
    # map ensembles
    "open_maps": "lensval.io",
    "save_maps": "lensval.io",
    "as_maps": "lensval.io",
    "MapWriter": "lensval.io",
    # simulator
    "simulate": "lensval.simulator",
    "PRESETS": "lensval.simulator",
    # statistics
    "summarize": "lensval.stats",
    "StatsConfig": "lensval.stats",
    "power_spectrum": "lensval.stats",
    "minkowski_functionals": "lensval.stats",
    "pixel_histogram": "lensval.stats",
    "pdf": "lensval.stats",
    "peak_counts": "lensval.stats",
    "moments": "lensval.stats",
    "correlation_matrix": "lensval.stats",
    "PowerSpectrum": "lensval.stats",
    "MinkowskiFunctionals": "lensval.stats",
    "PixelHistogram": "lensval.stats",
    "PixelPDF": "lensval.stats",
    "PeakCounts": "lensval.stats",
    "Moments": "lensval.stats",
    # two-sample tests
    "ks_2samp": "lensval.gof",
    "anderson_ksamp": "lensval.gof",
    "permutation_test": "lensval.gof",
    "bootstrap_test": "lensval.gof",
    "chi2_distance": "lensval.gof",
    "compare_correlations": "lensval.gof",
    # headline operations
    "compare": "lensval.comparison",
    "ComparisonResult": "lensval.comparison",
    "reference_stats": "lensval.reference",
    "score": "lensval.scoring",
    # generators
    "Generator": "lensval.plugins",
    "register_generator": "lensval.plugins",
    "list_generators": "lensval.plugins",
    "get_generator": "lensval.plugins",
    # novelty
    "nearest_neighbours": "lensval.novelty",
    "birthday_test": "lensval.novelty",
    "latent_path": "lensval.novelty",
    "slerp": "lensval.novelty",
    "check_novelty": "lensval.novelty",
    "NoveltyResult": "lensval.novelty",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'lensval' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for static analysers only
    from lensval.comparison import ComparisonResult, compare  # noqa: F401
    from lensval.errors import *  # noqa: F401,F403
    from lensval.gof import *  # noqa: F401,F403
    from lensval.io import MapWriter, as_maps, open_maps, save_maps  # noqa: F401
    from lensval.novelty import birthday_test, latent_path, nearest_neighbours, slerp  # noqa: F401
    from lensval.plugins import Generator, get_generator, list_generators, register_generator  # noqa: F401
    from lensval.reference import reference_stats  # noqa: F401
    from lensval.scoring import score  # noqa: F401
    from lensval.simulator import PRESETS, simulate  # noqa: F401
    from lensval.stats import *  # noqa: F401,F403
