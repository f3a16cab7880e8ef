"""Maps and bin sets on which lensval is checked against LensTools 1.2.

Shared by ``scripts/make_lenstools_reference.py`` (which runs LensTools and stores its
output in ``tests/data/lenstools_reference.npz``) and ``tests/test_stats_lenstools.py``
(which regenerates the same maps from the same seeds). The maps are built to hit the
hard cases: heavy tails, exactly tied values, constant regions, pixels sitting exactly
on threshold edges.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

ANGLE_256 = math.sqrt(12.0) / 4.0  # the paper's geometry
ANGLE_64 = ANGLE_256 / 4.0  # same pixel size, 64^2 pixels


def _gaussian_field(rng: np.random.Generator, n: int, slope: float = -2.5) -> np.ndarray:
    """Unit-variance Gaussian random field with a power-law spectrum."""
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij"))
    k[0, 0] = np.inf
    amp = k ** (slope / 2.0)
    g = np.fft.ifft2(amp * np.fft.fft2(rng.standard_normal((n, n)))).real
    return (g - g.mean()) / g.std()


def _lognormal(rng: np.random.Generator, n: int, kappa0: float = 0.03,
               sigma_g: float = 0.8) -> np.ndarray:
    g = sigma_g * _gaussian_field(rng, n)
    return kappa0 * (np.exp(g - sigma_g**2 / 2.0) - 1.0)


def make_maps() -> dict[str, tuple[np.ndarray, float]]:
    """name -> (float64 map, angle_deg). Deterministic given NumPy's PCG64 streams."""
    maps: dict[str, tuple[np.ndarray, float]] = {}
    rng = np.random.default_rng(20240601)
    maps["gauss64"] = (0.02 * _gaussian_field(rng, 64), ANGLE_64)
    maps["white64"] = (rng.normal(0.0, 0.01, (64, 64)), ANGLE_64)
    maps["lognormal64"] = (_lognormal(rng, 64), ANGLE_64)
    # heavily tied: a coarse grid of values, many exact zeros
    maps["tied64"] = (np.round(_lognormal(rng, 64) / 0.01) * 0.01, ANGLE_64)
    # constant regions: a block of zeros, a floor, a constant plateau
    m = _lognormal(rng, 64)
    m[5:25, 10:40] = 0.0
    m = np.maximum(m, -0.01)
    m[40:50, 40:60] = 0.05
    maps["constant64"] = (m, ANGLE_64)
    # every pixel exactly on a (kappa-unit) threshold edge of KAPPA_NU_EDGES
    maps["onedge64"] = (rng.choice(KAPPA_NU_EDGES, size=(64, 64)), ANGLE_64)
    maps["gauss256"] = (0.02 * _gaussian_field(rng, 256), ANGLE_256)
    maps["lognormal256"] = (_lognormal(rng, 256), ANGLE_256)
    return maps


def map_digest(m: np.ndarray) -> str:
    """SHA-256 of the map's float64 bytes (detects a change in the map recipe)."""
    return hashlib.sha256(np.ascontiguousarray(m, dtype="<f8").tobytes()).hexdigest()


#: kappa-unit thresholds (norm=False); onedge64 takes its values from these edges
KAPPA_NU_EDGES = np.linspace(-0.02, 0.018, 20)

ELL_EDGES = {
    "default": np.arange(200.0, 50000.0, 200.0),
    "linear": np.linspace(100.0, 30000.0, 31),
    "log": np.geomspace(150.0, 70000.0, 20),
}
# (edges, norm)
NU_EDGES = {
    "default": (np.linspace(-2.0, 1.8, 20), True),
    "linear": (np.linspace(-3.0, 3.0, 13), True),
    "log": (np.geomspace(0.1, 4.0, 10), True),
    "kappa": (KAPPA_NU_EDGES, False),
    "kappa_wide": (np.linspace(-0.05, 0.15, 21), False),
}
PDF_EDGES = {
    "sigma": (np.linspace(-3.0, 3.0, 25), True),
    "kappa": (KAPPA_NU_EDGES, False),
}
PEAK_EDGES = {
    "sigma": (np.linspace(-2.0, 5.0, 15), True),
    "kappa": (np.linspace(-0.02, 0.1, 13), False),
}
