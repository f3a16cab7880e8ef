"""Tests of the embedded lognormal simulator (lensval.simulator, `lensval simulate`).

The power spectrum is checked with an independent estimator (full numpy fft2 of the
1024^2 parents, binned with np.bincount) against C_ell W^2 computed here from the
shipped tables; the pixel moments with scipy.stats.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from click.testing import CliRunner

from lensval import simulator
from lensval.cli import main
from lensval.errors import InputError
from lensval.io import open_maps
from lensval.simulator import (
    PRESETS,
    SPLIT_IDS,
    _simulate_parents,
    iter_simulate,
    simulate,
    simulate_array,
    simulate_to_file,
)

DATA = Path(simulator.__file__).parent / "data"


# --------------------------------------------------------------------------- pixel moments
@pytest.fixture(scope="module")
def cosmogan_maps() -> np.ndarray:
    return simulate_array(256, split="train", seed=11, preset="cosmogan")


def test_cosmogan_pixel_moments(cosmogan_maps):
    # reference-data.md: the published validation maps have std ~0.037, skewness ~2.1
    x = cosmogan_maps.astype(np.float64).ravel()
    assert cosmogan_maps.dtype == np.float32
    assert cosmogan_maps.shape == (256, 256, 256)
    assert 0.034 <= x.std() <= 0.043
    assert 1.8 <= scipy.stats.skew(x) <= 2.6
    assert abs(x.mean()) < 1e-3
    assert x.min() >= -np.float32(PRESETS["cosmogan"].kappa0)


def test_nominal_zs1_pixel_moments():
    # reference-data.md: z_s=1 spectrum + Hilbert shift -> std 0.021, skewness 2.4
    x = simulate_array(256, split="train", seed=12, preset="nominal_zs1").astype(np.float64)
    assert 0.018 <= x.std() <= 0.024
    assert 2.0 <= scipy.stats.skew(x.ravel()) <= 2.9
    assert x.min() >= -np.float32(PRESETS["nominal_zs1"].kappa0)


def test_gaussian_control_is_symmetric(cosmogan_maps):
    g = simulate_array(256, split="train", seed=11, preset="gaussian").astype(np.float64)
    assert abs(scipy.stats.skew(g.ravel())) < 0.1
    assert abs(g.mean()) < 1e-3
    # same spectrum, so the same variance as the lognormal field to a few per cent
    assert g.std() == pytest.approx(cosmogan_maps.astype(np.float64).std(), rel=0.08)


# --------------------------------------------------------------------------- power spectrum
N_PARENT = 1024
ELL_EDGES = np.geomspace(1000.0, 30000.0, 7)


def _binned_target_and_index(table: str):
    """Independent C_ell W^2 on the full fft2 grid of a parent, and its ell-bin index."""
    side = math.radians(math.sqrt(12.0))
    d = side / N_PARENT
    freq = 2 * np.pi * np.fft.fftfreq(N_PARENT, d)
    lx, ly = freq[None, :], freq[:, None]
    ell = np.sqrt(lx**2 + ly**2)
    ell_tab, cl_tab = np.loadtxt(DATA / f"cl_kappa_{table}.txt", unpack=True)
    cl = np.zeros_like(ell)
    nz = ell > 0
    cl[nz] = np.exp(np.interp(np.log(ell[nz]), np.log(ell_tab), np.log(cl_tab)))
    x, y = lx * d / 2, ly * d / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        wx = np.where(x == 0, 1.0, np.sin(x) / x)
        wy = np.where(y == 0, 1.0, np.sin(y) / y)
    target = cl * (wx * wy) ** 2
    nbin = len(ELL_EDGES) - 1
    idx = np.digitize(ell.ravel(), ELL_EDGES) - 1
    idx[(idx < 0) | (idx >= nbin)] = nbin  # overflow bin, dropped
    counts = np.bincount(idx, minlength=nbin + 1)[:nbin]
    binned = np.bincount(idx, target.ravel(), minlength=nbin + 1)[:nbin] / counts
    return binned, idx, counts, side * side


@pytest.mark.parametrize("preset", ["cosmogan", "nominal_zs1"])
def test_parent_power_spectrum_matches_theory(preset):
    # 160 parents: the standard error of the ratio is <= 0.5% in the lowest bin
    # (~500 modes), so the 2% tolerance is > 4 sigma away from noise.
    target, idx, counts, area = _binned_target_and_index(PRESETS[preset].table)
    nbin = len(target)
    ratios = []
    for seed in range(20):
        for kappa in _simulate_parents(8, split="train", seed=seed, preset=preset):
            assert kappa.shape == (N_PARENT, N_PARENT) and kappa.dtype == np.float64
            f = np.fft.fft2(kappa)
            power = (f.real**2 + f.imag**2) * area / N_PARENT**4
            measured = np.bincount(idx, power.ravel(), minlength=nbin + 1)[:nbin] / counts
            ratios.append(measured / target)
    ratios = np.array(ratios)
    mean = ratios.mean(axis=0)
    sem = ratios.std(axis=0, ddof=1) / math.sqrt(len(ratios))
    assert sem.max() < 0.006, sem  # the test can resolve 2%
    np.testing.assert_allclose(mean, 1.0, atol=0.02)


@pytest.mark.parametrize("preset", ["cosmogan", "gaussian"])
def test_parent_equals_plain_numpy_colouring(preset):
    # Independent path: the same white noise (SeedSequence(seed, spawn_key=(split, p)),
    # float64), coloured with a full complex numpy fft2 on the whole Fourier plane
    # instead of scipy's in-place rfft2/irfft2 half plane, then the lognormal transform
    # written out as in reference-data.md: kappa0 (exp(g - sigma_G^2 / 2) - 1).
    spec = simulator._spectrum(preset)
    half = spec.amplitude
    n = N_PARENT
    full = np.empty((n, n))
    full[:, : n // 2 + 1] = half
    ky, kx = np.meshgrid(np.arange(n), np.arange(n // 2 + 1, n), indexing="ij")
    full[:, n // 2 + 1:] = half[(-ky) % n, (-kx) % n]  # Hermitian: A(-k) = A(k)
    rng = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(SPLIT_IDS["train"], 1)))
    g = np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, n))) * full).real
    if PRESETS[preset].lognormal:
        k0 = PRESETS[preset].kappa0
        assert spec.dc / n**2 == pytest.approx(math.log(k0) - spec.sigma_g2 / 2, rel=1e-12)
        expected = k0 * (np.exp(g - spec.sigma_g2 / 2) - 1)
    else:
        expected = g
    got = _simulate_parents(2, split="train", seed=7, preset=preset)[1]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)


def test_maps_are_float32_tiles_of_parents():
    parents = _simulate_parents(2, split="development", seed=3, preset="cosmogan")
    maps = simulate_array(27, split="development", seed=3, preset="cosmogan")
    for i in range(27):
        ty, tx = divmod(i % 16, 4)
        tile = parents[i // 16, ty * 256:(ty + 1) * 256, tx * 256:(tx + 1) * 256]
        np.testing.assert_array_equal(maps[i], tile.astype(np.float32))


# --------------------------------------------------------------------------- reproducibility
def test_same_seed_same_bytes():
    a = simulate_array(20, split="validation", seed=5)
    b = simulate_array(20, split="validation", seed=5)
    assert a.tobytes() == b.tobytes()
    c = simulate_array(20, split="validation", seed=6)
    assert not np.array_equal(a, c)


def test_independent_of_chunk_size_threads_and_n():
    ref = simulate_array(40, split="auxiliary", seed=9, chunk_size=1000, workers=1)
    for chunk, workers in [(1, 2), (16, 2), (17, 1), (33, 2)]:
        other = simulate_array(40, split="auxiliary", seed=9, chunk_size=chunk, workers=workers)
        np.testing.assert_array_equal(other, ref)
    # a shorter run is a prefix of a longer one
    np.testing.assert_array_equal(simulate_array(21, split="auxiliary", seed=9), ref[:21])
    # the streaming path: whole parents per block, same maps
    starts, blocks = zip(*iter_simulate(40, split="auxiliary", seed=9, chunk_size=20), strict=True)
    assert starts == (0, 32)
    assert [len(b) for b in blocks] == [32, 8]
    np.testing.assert_array_equal(np.concatenate(blocks), ref)


def test_splits_never_share_a_parent():
    # by construction: distinct SeedSequence spawn keys
    assert len(set(SPLIT_IDS.values())) == len(SPLIT_IDS)
    # by data: no map of one split equals a map of another (hashes), nor the
    # mean of any map (tiles of a shared parent would repeat exactly)
    hashes, means = {}, {}
    for split in SPLIT_IDS:
        maps = simulate_array(48, split=split, seed=0)
        hashes[split] = {hashlib.sha1(m.tobytes()).hexdigest() for m in maps}
        means[split] = set(maps.astype(np.float64).mean(axis=(1, 2)).tolist())
        assert len(hashes[split]) == 48
    splits = list(SPLIT_IDS)
    for i, s in enumerate(splits):
        for t in splits[i + 1:]:
            assert not hashes[s] & hashes[t], (s, t)
            assert not means[s] & means[t], (s, t)


def test_simulate_dataarray_attrs():
    da = simulate(17, split="development", seed=2, preset="gaussian", progress=False)
    assert da.dims == ("sample", "y", "x") and da.shape == (17, 256, 256)
    assert da.name == "kappa" and da.dtype == np.float32
    assert da.attrs["angle_deg"] == pytest.approx(math.sqrt(12) / 4)
    assert da.attrs["source"] == "lensval.simulate"
    assert (da.attrs["preset"], da.attrs["split"], da.attrs["seed"]) == ("gaussian",
                                                                        "development", 2)
    assert "lensval_version" in da.attrs
    np.testing.assert_array_equal(da.values, simulate_array(17, "development", 2, "gaussian"))


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n": 0}, "positive integer"),
    ({"n": -3}, "positive integer"),
    ({"n": 2.5}, "positive integer"),
    ({"n": 4, "preset": "lognormal"}, "cosmogan, nominal_zs1, gaussian"),
    ({"n": 4, "split": "test"}, "train, validation, development, auxiliary"),
    ({"n": 4, "seed": -1}, "non-negative"),
    ({"n": 4, "seed": 2**64}, "below 2"),
    ({"n": 4, "chunk_size": 0}, "chunk_size"),
])
def test_bad_arguments_one_line_error(kwargs, match):
    with pytest.raises(InputError, match=match) as info:
        simulate_array(**kwargs)
    assert "\n" not in str(info.value)


def test_iter_simulate_validates_on_call():
    with pytest.raises(InputError, match="unknown split"):
        iter_simulate(4, split="test")


def test_simulate_to_file_bad_args_leave_no_file(tmp_path):
    out = tmp_path / "maps.nc"
    with pytest.raises(InputError):
        simulate_to_file(out, 8, preset="nope")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- CLI
def test_cli_choices_match_library():
    from lensval.cli import simulate as cli_sim

    assert cli_sim.SPLITS == tuple(SPLIT_IDS)
    assert cli_sim.PRESET_NAMES == tuple(PRESETS)


def test_cli_simulate_writes_readable_file(tmp_path):
    out = tmp_path / "val.nc"
    res = CliRunner().invoke(main, ["simulate", "--n", "20", "--split", "validation",
                                    "--seed", "4", "--preset", "cosmogan",
                                    "--chunk-size", "16", "-o", str(out)])
    assert res.exit_code == 0, res.output
    maps = open_maps(out)
    assert maps.shape == (20, 256, 256)
    assert maps.attrs["angle_deg"] == pytest.approx(math.sqrt(12) / 4)
    assert maps.attrs["preset"] == "cosmogan" and maps.attrs["split"] == "validation"
    assert int(maps.attrs["seed"]) == 4 and maps.attrs["source"] == "lensval.simulate"
    np.testing.assert_array_equal(maps.values, simulate_array(20, "validation", 4))
    assert [p.name for p in tmp_path.iterdir()] == ["val.nc"]  # no temporary left over


@pytest.mark.parametrize("args", [
    ["--n", "0"],
    ["--n", "4", "--preset", "lognormal"],
    ["--n", "4", "--split", "test"],
])
def test_cli_bad_input(tmp_path, args):
    out = tmp_path / "x.nc"
    res = CliRunner().invoke(main, ["simulate", *args, "-o", str(out)])
    assert res.exit_code != 0
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, res.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("tiles", [1, 4])
def test_tiles_per_parent_selects_tiles_of_parents(tiles):
    from lensval.simulator import TILE_LAYOUTS, _simulate_parents, simulate_array

    maps = simulate_array(6, split="development", seed=4, tiles_per_parent=tiles, chunk_size=3)
    parents = _simulate_parents(-(-6 // tiles), split="development", seed=4)
    for i in range(6):
        ty, tx = TILE_LAYOUTS[tiles][i % tiles]
        tile = parents[i // tiles, ty * 256:(ty + 1) * 256, tx * 256:(tx + 1) * 256]
        np.testing.assert_array_equal(maps[i], tile.astype(np.float32))
    with pytest.raises(InputError, match="tiles_per_parent"):
        simulate_array(4, tiles_per_parent=3)
