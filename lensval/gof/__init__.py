"""Column-wise, vectorised two-sample tests: KS, Anderson-Darling, resampling, distances.

Every test works on two ensembles of features, ``a`` (n_a, ...) and ``b`` (n_b, ...), and
returns one statistic and p-value per column (the non-sample axes). See ``docs/gof.md``.
"""

from __future__ import annotations

from lensval.gof.anderson import ADResult, anderson_ksamp
from lensval.gof.distances import CorrelationComparison, chi2_distance, compare_correlations
from lensval.gof.ks import KSResult, ks_2samp
from lensval.gof.resampling import ResamplingResult, TestResult, bootstrap_test, permutation_test

__all__ = [
    "ADResult",
    "CorrelationComparison",
    "KSResult",
    "ResamplingResult",
    "TestResult",
    "anderson_ksamp",
    "bootstrap_test",
    "chi2_distance",
    "compare_correlations",
    "ks_2samp",
    "permutation_test",
]
