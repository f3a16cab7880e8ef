"""lensval's statistics against LensTools 1.2 (the implementation the paper used).

Two layers:

- stored reference values (``tests/data/lenstools_reference.npz``, produced by
  ``scripts/make_lenstools_reference.py`` from the maps of ``lenstools_cases.py``):
  always run, LensTools not needed;
- live comparisons that run LensTools itself on fresh maps (marked ``lenstools``;
  skip cleanly when it is not importable).

The contract is a relative difference <= 1e-10 per value on float64 maps; in practice
the results are bit-identical (see docs/statistics.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import import_lenstools
from lenstools_cases import (
    ELL_EDGES,
    NU_EDGES,
    PDF_EDGES,
    PEAK_EDGES,
    make_maps,
    map_digest,
)

import lensval as lv
from lensval._kernels import peaks as kpeaks
from lensval.stats.peaks import peak_density

RTOL = 1e-10
REFERENCE = Path(__file__).parent / "data" / "lenstools_reference.npz"
MAPS = make_maps()


def assert_rel(got, ref, what=""):
    """Elementwise ``|got - ref| <= 1e-10 |ref|`` (zeros must be exactly zero)."""
    got, ref = np.asarray(got, float), np.asarray(ref, float)
    assert got.shape == ref.shape, what
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=0, equal_nan=True, err_msg=what)


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as z:
        data = {k: z[k] for k in z.files}
    for name, (m, _) in MAPS.items():
        if str(data[f"{name}/sha256"]) != map_digest(m):
            pytest.fail(f"map {name} differs from the one the reference was made from: "
                        "rerun scripts/make_lenstools_reference.py")
    return data


# --------------------------------------------------------------------------- stored
@pytest.mark.parametrize("name", sorted(MAPS))
def test_power_spectrum_matches_stored_lenstools(reference, name):
    m, angle = MAPS[name]
    for key, edges in ELL_EDGES.items():
        ps = lv.power_spectrum(m, angle_deg=angle, ell_edges=edges)
        assert_rel(ps.power, reference[f"{name}/power/{key}"], f"{name} {key}")
        assert np.all(ps.power[ps.n_modes == 0] == 0)


@pytest.mark.parametrize("name", sorted(MAPS))
def test_minkowski_matches_stored_lenstools(reference, name):
    m, _ = MAPS[name]
    for key, (edges, norm) in NU_EDGES.items():
        mf = lv.minkowski_functionals(m, nu_edges=edges, norm=norm)
        ref = reference[f"{name}/minkowski/{key}"]
        for i, v in enumerate((mf.V0, mf.V1, mf.V2)):
            assert_rel(v, ref[i], f"{name} {key} V{i}")


@pytest.mark.parametrize("name", sorted(MAPS))
def test_pdf_matches_stored_lenstools(reference, name):
    m, _ = MAPS[name]
    for key, (edges, norm) in PDF_EDGES.items():
        assert_rel(lv.pdf(m, edges, norm=norm).pdf, reference[f"{name}/pdf/{key}"],
                   f"{name} {key}")


@pytest.mark.parametrize("name", sorted(MAPS))
def test_peaks_match_stored_lenstools_up_to_float32_quirk(reference, name):
    """With LensTools' float32 centre the kernel reproduces LensTools exactly; lensval's
    float64 counts differ only where that rounding flips a comparison."""
    m, _ = MAPS[name]
    for key, (edges, norm) in PEAK_EDGES.items():
        sigma = np.array([m.std() if norm else 1.0])
        counts32 = np.zeros((1, edges.size - 1), np.int64)
        kpeaks.peak_count_batch(m[None].copy(), sigma, edges, 0, True, counts32)
        np.testing.assert_array_equal(peak_density(counts32, edges)[0],
                                      reference[f"{name}/peaks/{key}"])
        ours = lv.peak_counts(m, nu_edges=edges, norm=norm).counts
        np.testing.assert_array_equal(ours, slow_peak_counts(m, edges, sigma[0]))


def test_countmodes(reference):
    """n_modes_eff is LensTools' countModes (same binning away from exact edge hits)."""
    for name in ("gauss64", "gauss256"):
        m, angle = MAPS[name]
        ps = lv.power_spectrum(m, angle_deg=angle)
        ref = reference[f"{name}/countModes/default"]
        ok = np.isfinite(ref)
        np.testing.assert_allclose(ps.n_modes_eff[ok], ref[ok], rtol=1e-12)
        assert np.all(ps.n_modes[~ok] == 0)


def test_summarize_matches_stored_lenstools(reference):
    """The Dataset path gives the same numbers as the wrappers (and hence LensTools)."""
    names = ["gauss256", "lognormal256"]
    maps = np.stack([MAPS[n][0] for n in names])
    ds = lv.summarize(maps, angle_deg=MAPS[names[0]][1])
    for i, name in enumerate(names):
        assert_rel(ds.power[i], reference[f"{name}/power/default"], name)
        assert_rel(ds.minkowski[i], reference[f"{name}/minkowski/default"], name)


# --------------------------------------------------------------------------- slow reference
def slow_peak_counts(m, edges, sigma, float32_centre=False):
    """Pure-Python peak counter: strictly above the 8 periodic neighbours."""
    n = m.shape[0]
    counts = np.zeros(len(edges) - 1, np.int64)
    for y in range(n):
        for x in range(n):
            c = float(np.float32(m[y, x])) if float32_centre else m[y, x]
            if all(c > m[(y + dy) % n, (x + dx) % n]
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx):
                for i in range(len(edges) - 1):
                    if edges[i] * sigma <= m[y, x] < edges[i + 1] * sigma:
                        counts[i] += 1
    return counts


# --------------------------------------------------------------------------- live
def _random_maps(seed: int):
    """Fresh maps for the live comparison: several shapes, heavy tails and ties."""
    rng = np.random.default_rng(seed)
    out = []
    for n in (32, 48, 64):
        g = rng.standard_normal((n, n))
        out.append(0.01 * g)
        out.append(0.03 * (np.exp(0.9 * g) - np.exp(0.405)))
        out.append(np.round(g * 2) / 2 * 0.01)  # heavy ties, exact zeros
    return out


@pytest.mark.lenstools
def test_live_lenstools_power_minkowski_pdf():
    lt = import_lenstools()
    import astropy.units as u

    ell_sets = [*ELL_EDGES.values(), np.arange(500.0, 30000.0, 350.0)]
    nu_sets = [*NU_EDGES.values(), (np.linspace(-1.0, 3.0, 9), True)]
    worst = {"power": 0.0, "V0": 0.0, "V1": 0.0, "V2": 0.0, "pdf": 0.0}
    for i, m in enumerate(_random_maps(7)):
        angle = 0.866 if i % 2 else 0.3
        for norm_flag in (True, False):
            for ell in ell_sets:
                cm = lt.ConvergenceMap(m, angle=angle * u.deg)
                ref = cm.powerSpectrum(ell)[1]
                got = lv.power_spectrum(m, angle_deg=angle, ell_edges=ell).power
                assert_rel(got, ref, f"map {i} power")
                worst["power"] = max(worst["power"], _maxrel(got, ref))
            for edges, norm in nu_sets:
                norm = norm and norm_flag
                if not norm:
                    edges = edges * 0.01
                cm = lt.ConvergenceMap(m, angle=angle * u.deg)
                _, *ref = cm.minkowskiFunctionals(edges, norm=norm)
                mf = lv.minkowski_functionals(m, nu_edges=edges, norm=norm)
                for k, (got, r) in enumerate(zip((mf.V0, mf.V1, mf.V2), ref, strict=True)):
                    assert_rel(got, r, f"map {i} V{k}")
                    worst[f"V{k}"] = max(worst[f"V{k}"], _maxrel(got, r))
                with np.errstate(invalid="ignore", divide="ignore"):
                    ref_pdf = cm.pdf(edges, norm=norm)[1]
                got = lv.pdf(m, edges, norm=norm).pdf
                assert_rel(got, ref_pdf, f"map {i} pdf")
                worst["pdf"] = max(worst["pdf"], _maxrel(got, ref_pdf))
    assert max(worst.values()) <= RTOL


def _maxrel(got, ref):
    got, ref = np.asarray(got, float), np.asarray(ref, float)
    ok = np.isfinite(ref) & (ref != 0)
    exact = np.array_equal(got[~ok], ref[~ok], equal_nan=True)
    rel = np.abs(got[ok] - ref[ok]) / np.abs(ref[ok])
    return (rel.max() if rel.size else 0.0) if exact else np.inf


@pytest.mark.lenstools
def test_live_lenstools_peaks_float32_quirk():
    """Show LensTools' float32 centre on a constructed map, and that it is the only
    difference: lensval's kernel with the quirk switched on matches LensTools."""
    lt = import_lenstools()
    import astropy.units as u

    rng = np.random.default_rng(3)
    m = rng.uniform(0.0, 0.5, (32, 32))
    m[10, 10] = 1.0 + 2.0**-30  # a float64 peak over its neighbour 1.0 ...
    m[10, 11] = 1.0  # ... that float32(1 + 2^-30) = 1.0 no longer beats
    m[20, 20] = m[20, 21] = 1.0 - 2.0**-30  # a tied pair: no float64 peak, but
    # float32(1 - 2^-30) = 1.0 beats the other: LensTools counts both
    edges = np.array([0.0, 0.5, 1.5])
    ref = lt.ConvergenceMap(m, angle=0.5 * u.deg).peakCount(edges, norm=False)[1]
    ours = lv.peak_counts(m, nu_edges=edges, norm=False)
    assert ours.counts[1] == 1  # the genuine peak at (10, 10)
    np.testing.assert_array_equal(ours.counts, slow_peak_counts(m, edges, 1.0))
    quirk = slow_peak_counts(m, edges, 1.0, float32_centre=True)
    assert quirk[1] == 2  # (10, 10) lost, (20, 20) and (20, 21) invented
    np.testing.assert_array_equal(ref, peak_density(quirk[None], edges)[0])
    counts32 = np.zeros((1, 2), np.int64)
    kpeaks.peak_count_batch(m[None].copy(), np.ones(1), edges, 0, True, counts32)
    np.testing.assert_array_equal(peak_density(counts32, edges)[0], ref)
    # on maps without float32 near-ties the public (float64) counts equal LensTools'
    for i, g in enumerate(_random_maps(11)[:2]):
        nu = np.linspace(-2.0, 4.0, 13)
        ref = lt.ConvergenceMap(g, angle=0.5 * u.deg).peakCount(nu, norm=True)[1]
        np.testing.assert_array_equal(lv.peak_counts(g, nu_edges=nu).density, ref,
                                      err_msg=f"map {i}")
