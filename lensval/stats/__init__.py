"""Summary statistics of convergence maps: public wrappers over numba kernels.

Every function takes ``(N, N)`` or ``(n, N, N)`` maps (NumPy, xarray, torch), computes
in float64, and returns a result dataclass; :func:`summarize` returns the statistics
Dataset (the file contract in ``docs/design.md``). Power spectrum, Minkowski
functionals and the one-point PDF are bit-identical to LensTools 1.2 on float64 maps;
see ``docs/statistics.md``.
"""

from __future__ import annotations

from lensval.stats.config import StatsConfig
from lensval.stats.correlation import correlation_matrix
from lensval.stats.histogram import PixelHistogram, PixelPDF, pdf, pixel_histogram
from lensval.stats.minkowski import MinkowskiFunctionals, minkowski_functionals
from lensval.stats.moments import Moments, moments
from lensval.stats.peaks import PeakCounts, peak_counts
from lensval.stats.power import PowerSpectrum, power_spectrum
from lensval.stats.summary import summarize

__all__ = [
    "StatsConfig",
    "summarize",
    "power_spectrum",
    "PowerSpectrum",
    "minkowski_functionals",
    "MinkowskiFunctionals",
    "pixel_histogram",
    "PixelHistogram",
    "pdf",
    "PixelPDF",
    "peak_counts",
    "PeakCounts",
    "moments",
    "Moments",
    "correlation_matrix",
]
