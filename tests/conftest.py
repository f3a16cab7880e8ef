"""Shared fixtures. Optional oracles (LensTools, ROOT) are imported here so that tests
that need them skip cleanly when they are not installed."""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
LENSTOOLS_COMPAT = SHARED / "tools" / "lenstools"


def import_lenstools():
    """Import LensTools 1.2 through the numpy-2 compatibility shim, or skip."""
    if LENSTOOLS_COMPAT.is_dir() and str(LENSTOOLS_COMPAT) not in sys.path:
        sys.path.insert(0, str(LENSTOOLS_COMPAT))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the shim must be imported before LensTools (it patches numpy 2 and
            # setuptools >= 81); import_module keeps import sorters from reordering it
            importlib.import_module("lenstools_compat")
            import lenstools  # noqa: F401
            from lenstools import ConvergenceMap  # noqa: F401
    except Exception as exc:  # not installed, or broken build
        pytest.skip(f"LensTools not importable ({type(exc).__name__}: {exc})")
    return lenstools


def import_root():
    """Import CERN ROOT (its alpha wheel warns on import), or skip."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ROOT  # noqa: F401
    except Exception as exc:
        pytest.skip(f"ROOT not importable ({type(exc).__name__})")
    return ROOT


@pytest.fixture
def lenstools():
    return import_lenstools()


@pytest.fixture
def root():
    return import_root()
