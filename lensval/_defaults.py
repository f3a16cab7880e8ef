"""The single source of default settings, shared by library keywords and CLI flags."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

#: Side of one 256^2 map in degrees: a quarter of a 12 deg^2 parent (paper Sect. 2.1).
ANGLE_DEG: float = math.sqrt(12.0) / 4.0
#: Pixels on a side of one map.
MAP_SIZE: int = 256


def default_ell_edges() -> np.ndarray:
    """249 multipole edges -> 248 power-spectrum bins (LensTools' documentation example)."""
    return np.arange(200.0, 50000.0, 200.0)


def default_nu_edges() -> np.ndarray:
    """20 threshold edges in units of the per-map sigma -> 19 Minkowski bins."""
    return np.linspace(-2.0, 1.8, 20)


def cache_dir(kind: str) -> Path:
    """``$LENSVAL_CACHE_DIR/<kind>``; the root defaults to ``$XDG_CACHE_HOME/lensval``."""
    root = os.environ.get("LENSVAL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lensval")
    return Path(root) / kind


#: Maps processed per chunk when streaming (bounds peak memory).
CHUNK_SIZE: int = 256
#: Resamples for permutation/bootstrap tests.
N_RESAMPLES: int = 1000
#: Default number of generated maps to score (the paper's 6400).
N_SCORE: int = 6400


def default_kappa_edges() -> np.ndarray:
    """131 fixed kappa edges -> 130 pixel-histogram bins of width 0.01 on [-0.10, 1.20].

    Data-independent, so that histograms of any two ensembles pool exactly. The range
    covers the published CosmoGAN validation maps (min ~-0.09, max ~1.05; see
    docs/reference-data.md); pixels outside it are counted, not dropped
    (``pixel_under``/``pixel_over`` in a statistics file).
    """
    return np.linspace(-0.10, 1.20, 131)


def default_peak_nu_edges() -> np.ndarray:
    """21 peak-height edges in units of the per-map sigma -> 20 bins of 0.5 sigma on [-2, 8]."""
    return np.linspace(-2.0, 8.0, 21)
