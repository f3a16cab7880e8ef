#!/usr/bin/env python
"""Run LensTools 1.2 on the maps of tests/lenstools_cases.py; store its output.

Writes tests/data/lenstools_reference.npz, which tests/test_stats_lenstools.py compares
lensval against (LensTools is not needed to run the tests). Rerun after changing the
cases:

    python scripts/make_lenstools_reference.py

LensTools 1.2 needs numpy-2 patches: build and import it as in
shared/tools/lenstools/README.md (``import lenstools_compat`` first).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO.parent / "shared" / "tools" / "lenstools"))

import lenstools_cases as cases  # noqa: E402


def main(out: Path = REPO / "tests" / "data" / "lenstools_reference.npz") -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # isort: off
        import lenstools_compat  # noqa: F401  (patches numpy 2; must come first)
        import astropy.units as u
        import lenstools
        from lenstools import ConvergenceMap
        # isort: on

    data: dict[str, np.ndarray] = {}
    maps = cases.make_maps()
    for name, (m, angle) in maps.items():
        data[f"{name}/sha256"] = np.array(cases.map_digest(m))
        cm = ConvergenceMap(m, angle=angle * u.deg)
        for key, edges in cases.ELL_EDGES.items():
            data[f"{name}/power/{key}"] = cm.powerSpectrum(edges)[1]
        data[f"{name}/countModes/default"] = cm.countModes(cases.ELL_EDGES["default"])
        for key, (edges, norm) in cases.NU_EDGES.items():
            cm = ConvergenceMap(m, angle=angle * u.deg)  # fresh: no cached derivatives
            _, v0, v1, v2 = cm.minkowskiFunctionals(edges, norm=norm)
            data[f"{name}/minkowski/{key}"] = np.stack([v0, v1, v2])
        for key, (edges, norm) in cases.PDF_EDGES.items():
            with np.errstate(invalid="ignore", divide="ignore"):
                data[f"{name}/pdf/{key}"] = cm.pdf(edges, norm=norm)[1]
        for key, (edges, norm) in cases.PEAK_EDGES.items():
            data[f"{name}/peaks/{key}"] = cm.peakCount(edges, norm=norm)[1]
    data["lenstools_version"] = np.array(getattr(lenstools, "__version__", "1.2"))
    data["numpy_version"] = np.array(np.__version__)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **data)
    print(f"wrote {len(data)} arrays to {out} ({out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
