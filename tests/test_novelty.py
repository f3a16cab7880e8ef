"""Tests of lensval.novelty: exact search vs brute force, calibrated verdicts, slerp, CLI.

Maps are small (32^2: the simulator's 256^2 maps block-averaged 8 x 8, so each small
map is an independent draw; the side stays 0.866 deg) to keep the file at ~1 minute.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose, assert_array_equal

import lensval as lv
from lensval import _defaults
from lensval.errors import ConfigMismatchError, InputError
from lensval.novelty import (
    birthday_test,
    latent_path,
    nearest_neighbours,
    slerp,
)
from lensval.plugins import Generator

ANGLE = _defaults.ANGLE_DEG
M = 32


def _small(split: str, n: int, seed: int = 0) -> np.ndarray:
    maps = lv.simulate(n, split=split, seed=seed, progress=False).values
    return maps.reshape(n, M, 256 // M, M, 256 // M).mean(axis=(2, 4))


@pytest.fixture(scope="module")
def sets():
    """Independent small ensembles from three simulator splits (float32)."""
    return {"train": _small("train", 320), "reference": _small("validation", 320),
            "generated": _small("auxiliary", 160)}


def _brute_nn(a: np.ndarray, b: np.ndarray, k: int = 1):
    """Reference: full float64 distance matrix, stable argsort (first index on ties).

    Returns indices and distances of shape (n,) for k = 1, else (n, k).
    """
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
    dist = np.sqrt(np.take_along_axis(d2, idx, axis=1))
    return (idx[:, 0], dist[:, 0]) if k == 1 else (idx, dist)


def _brute_pairs(x: np.ndarray) -> np.ndarray:
    """All pairwise float64 distances i < j, as a condensed vector."""
    from scipy.spatial.distance import pdist

    return pdist(x.reshape(len(x), -1).astype(np.float64))


def _log_power(maps: np.ndarray) -> np.ndarray:
    ps = lv.power_spectrum(maps, angle_deg=ANGLE)
    return np.log(ps.power[:, ps.n_modes > 0])


# --------------------------------------------------------------------------- fakes
class Memoriser(Generator):
    """Returns training maps plus 1% noise (of the map ensemble's std)."""

    angle_deg = ANGLE
    map_size = M

    def __init__(self, training: np.ndarray) -> None:
        super().__init__()
        self.training = training

    def sample(self, n, rng):
        pick = rng.integers(0, len(self.training), n)
        noise = 0.01 * self.training.std() * rng.standard_normal((n, M, M))
        return self.training[pick] + noise


class Collapsed(Generator):
    """k distinct maps (independent simulator draws) plus tiny noise."""

    angle_deg = ANGLE
    map_size = M

    def __init__(self, atoms: np.ndarray) -> None:
        super().__init__()
        self.atoms = atoms

    def sample(self, n, rng):
        pick = rng.integers(0, len(self.atoms), n)
        return self.atoms[pick] + 1e-4 * self.atoms.std() * rng.standard_normal((n, M, M))


class LinearDecoder(Generator):
    """A smooth generator: maps = W z (plus features for the features space)."""

    latent_dim = 8
    angle_deg = ANGLE
    map_size = 16
    batch_size = 7  # odd on purpose: batching must not matter

    def __init__(self) -> None:
        super().__init__()
        self.w = np.random.default_rng(5).standard_normal((8, 16 * 16)) / 100

    def decode(self, z):
        return (np.asarray(z, dtype=np.float64) @ self.w).reshape(-1, 16, 16)

    def features(self, maps):
        return np.asarray(maps).reshape(len(maps), -1)[:, ::4]


class Hashed(LinearDecoder):
    """Discontinuous: the map depends only on the signs of three latent coordinates."""

    def decode(self, z):
        code = (np.asarray(z)[:, :3] > 0) @ np.array([1, 2, 4])
        table = np.random.default_rng(9).standard_normal((8, 16, 16)) / 50
        return table[code]


# --------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nn_equals_brute_force_for_any_chunk_size(dtype):
    rng = np.random.default_rng(0)
    train = rng.standard_normal((70, 16, 16)).astype(dtype)
    gen = rng.standard_normal((41, 16, 16)).astype(dtype)
    train[11] = train[3]       # exact tie: the smaller index must win
    gen[5] = train[3]          # an exact copy: distance 0
    gen[6] = train[20] + 1e-7  # a near copy
    idx, dist = _brute_nn(gen, train, k=2)
    for chunk in (1, 7, 256):
        res = nearest_neighbours(gen, train, "pixel", chunk_size=chunk)
        assert_array_equal(res.indices, idx[:, 0])
        assert_array_equal(res.distances, dist[:, 0])  # the same float64 expression
        d2 = np.where(dist[:, 1] > 0, dist[:, 1], 1.0)
        assert_array_equal(res.relative_distances, dist[:, 0] / d2)
    # an exact copy of a duplicated training map: d1 = d2 = 0, relative distance 0
    assert res.indices[5] == 3 and res.distances[5] == 0.0
    assert res.relative_distances[5] == 0.0


@pytest.mark.parametrize("k", [1, 2, 5])
def test_engine_k_nearest_equals_brute_force(k):
    from lensval._pairwise import Rows, nearest

    rng = np.random.default_rng(13)
    b = rng.standard_normal((90, 40))
    b[10:20] = b[0]  # a run of exact ties
    a = np.concatenate([rng.standard_normal((20, 40)), b[:3] + 1e-12])
    idx, dist = _brute_nn(a, b, k=max(k, 2))
    for ba, bb in ((3, 4), (64, 1024)):
        got_i, got_d2, _ = nearest(Rows.build(a), Rows.build(b), k=k, block_a=ba,
                                   block_b=bb)
        assert_array_equal(got_i, idx[:, :k])
        assert_array_equal(np.sqrt(got_d2), dist[:, :k])


def test_nn_wide_rows_float32_slices():
    """Rows wider than one float32 GEMM slice (4096): the error bound still holds."""
    rng = np.random.default_rng(1)
    train = rng.standard_normal((60, 72, 72)).astype(np.float32)
    # neighbours that differ by far less than the float32 dot-product error
    gen = train[rng.integers(0, 60, 30)] + 1e-3 * rng.standard_normal((30, 72, 72))
    train[7] = train[8] + np.float32(1e-6)
    g32 = gen.astype(np.float32)
    idx, dist = _brute_nn(g32, train)
    res = nearest_neighbours(g32, train, "pixel", chunk_size=8)
    assert_array_equal(res.indices, idx)
    assert_allclose(res.distances, dist, rtol=1e-14)
    assert res.meta["gemm_dtype"] == "float32"


def test_nn_power_and_features_equal_brute_force(sets):
    gen, train = sets["generated"][:40], sets["train"][:90]
    idx, dist = _brute_nn(_log_power(gen), _log_power(train))
    res = nearest_neighbours(gen, train, "power", angle_deg=ANGLE, chunk_size=16)
    assert_array_equal(res.indices, idx)
    assert_allclose(res.distances, dist, rtol=1e-12)

    g = LinearDecoder()
    a = np.random.default_rng(2).standard_normal((30, 16, 16))
    b = np.random.default_rng(3).standard_normal((50, 16, 16))
    idx, dist = _brute_nn(g.features(a), g.features(b))
    res = nearest_neighbours(a, b, "features", generator=g, chunk_size=4)
    assert_array_equal(res.indices, idx)
    assert_allclose(res.distances, dist, rtol=1e-12)


def test_birthday_counts_equal_brute_force():
    rng = np.random.default_rng(4)
    maps = rng.standard_normal((3 * 40, 12, 12))
    maps[45] = maps[70] + 1e-9  # a duplicate in batch 1
    real = rng.standard_normal((100, 12, 12))
    t = _brute_pairs(real[:80]).min()
    for chunk in (5, 1024):
        res = birthday_test(maps, 40, "pixel", real=real, chunk_size=chunk, n_pairs=3)
        assert res.n_batches == 3 and res.n_real == 80
        assert res.threshold == pytest.approx(t, rel=1e-14)
        for k in range(3):
            d = _brute_pairs(maps[40 * k:40 * (k + 1)])
            assert res.min_distances[k] == pytest.approx(d.min(), rel=1e-14)
            assert_allclose(res.closest_distances[k], np.sort(d)[:3], rtol=1e-14)
            assert res.n_duplicates[k] == np.count_nonzero(d < t)
    assert tuple(res.closest_pairs[1, 0]) == (5, 30)


# --------------------------------------------------------------------------- verdicts
@pytest.mark.parametrize("space", ["pixel", "power"])
def test_memoriser_flagged_and_independent_maps_not(sets, space):
    train, ref = sets["train"], sets["reference"]
    copies = Memoriser(train).sample(160, np.random.default_rng(6))
    res = nearest_neighbours(copies, train, space, reference=ref, angle_deg=ANGLE)
    assert res.verdict == "memorising" and res.memorising
    assert res.pvalue < 1e-10 and res.fraction_below > 0.9
    assert res.median_ratio < 0.2
    assert np.mean(res.relative_distances < 0.2) > 0.9

    res = nearest_neighbours(sets["generated"], train, space, reference=ref,
                             angle_deg=ANGLE)
    assert res.verdict == "novel" and res.memorising is False
    assert res.pvalue > 0.05
    assert 0.8 < res.median_ratio < 1.25
    # beta-binomial bookkeeping: k = ceil(0.01 * 320) = 4
    assert res.expected_fraction == pytest.approx(4 / 321)
    assert res.threshold == np.sort(res.reference_relative_distances)[3]
    assert res.n_below == np.count_nonzero(res.relative_distances < res.threshold)


def test_verdict_pvalue_is_beta_binomial():
    """Independent check of the rule: P(X >= x) by summing the beta-binomial pmf."""
    from scipy.special import betaln, comb

    from lensval.novelty import _verdict_nn

    rng = np.random.default_rng(7)
    ref, gen = rng.random(150), rng.random(90)
    gen[:4] = 0.0
    out = _verdict_nn(gen, ref, 0.02, 0.01, float(np.median(gen)), float(np.median(ref)))
    k, n_ref, n = 3, 150, 90
    x = out["n_below"]
    pmf = [comb(n, j) * math.exp(betaln(j + k, n - j + n_ref + 1 - k) - betaln(k, n_ref + 1 - k))
           for j in range(x, n + 1)]
    assert out["pvalue"] == pytest.approx(sum(pmf), rel=1e-9)


def test_no_reference_gives_no_verdict(sets):
    res = nearest_neighbours(sets["generated"][:20], sets["train"][:50], "pixel")
    assert res.verdict == "no reference" and res.memorising is None and res.pvalue is None


@pytest.mark.parametrize("space", ["pixel", "power"])
def test_birthday_catches_collapse_near_sqrt_k(sets, space):
    k = 100
    gen = Collapsed(sets["train"][:k])
    res = birthday_test(gen, batch_size=20, space=space, n_batches=20,
                        real=sets["reference"], rng=1)
    assert res.collapsed and res.pvalue < 1e-3
    assert k / 3 < res.support_estimate < 3 * k
    assert k / 3 < res.support_estimate_collision < 3 * k
    assert res.n_duplicates.sum() > 20

    res = birthday_test(sets["generated"], batch_size=20, space=space,
                        real=sets["reference"], angle_deg=ANGLE)
    assert res.n_batches == 8
    assert not res.collapsed and res.pvalue > 0.05
    assert res.support_estimate > 3 * k


def test_birthday_memory_mapped_batches_give_the_same_result(sets, monkeypatch):
    import lensval.novelty as nv

    gen = Collapsed(sets["train"][:30])
    kw = dict(batch_size=12, space="pixel", n_batches=3, real=sets["reference"], rng=2)
    in_memory = birthday_test(gen, **kw)
    monkeypatch.setattr(nv, "MEMORY_LIMIT_BYTES", 1)  # every buffer goes to a temp file
    mapped = birthday_test(gen, **kw)
    assert_array_equal(mapped.min_distances, in_memory.min_distances)
    assert_array_equal(mapped.n_duplicates, in_memory.n_duplicates)
    assert_array_equal(mapped.closest_pairs, in_memory.closest_pairs)


def test_birthday_rule_against_the_exact_null():
    """Null model of the rule, derived independently: with an ideal generator all pair
    distances are i.i.d. continuous, the threshold is the smallest of M real-pair
    distances (a Beta(1, M) quantile), so the duplicate total over B batches of N pairs
    is BetaBinomial(B N, 1, M) with mean N / (M + 1) per batch. The rule's expected count
    must equal that mean, and its (geometric) p-value must match the exact tail."""
    from scipy.stats import betabinom

    from lensval.novelty import _birthday_stats

    n_dup = np.array([0, 3, 1, 0])
    out = _birthday_stats(n_dup, s=10, m=20, alpha=0.01)
    n_pairs, m_pairs, b = 45, 190, 4
    assert out["expected_duplicates"] == pytest.approx(n_pairs / (m_pairs + 1), rel=1e-12)
    exact = betabinom.sf(n_dup.sum() - 1, b * n_pairs, 1, m_pairs)
    assert out["pvalue"] == pytest.approx(exact, rel=0.05)
    # and the exact model itself, by simulation (seeded)
    rng = np.random.default_rng(0)
    totals = rng.binomial(b * n_pairs, rng.beta(1, m_pairs, 100_000))
    assert np.mean(totals >= n_dup.sum()) == pytest.approx(exact, abs=0.003)
    # support estimates: k_hat solves  mean duplicates per batch = N / k_hat + N / (M + 1)
    # (true collisions plus the null rate); the collision estimate inverts
    # P(collision in a batch) = 1 - exp(-s^2 / 2k)
    assert out["support_estimate"] == pytest.approx(
        n_pairs / (n_dup.mean() - n_pairs / (m_pairs + 1)), rel=1e-12)
    p_coll = np.mean(n_dup > 0)
    assert out["support_estimate_collision"] == pytest.approx(
        10**2 / (2 * math.log(1 / (1 - p_coll))), rel=1e-12)


# --------------------------------------------------------------------------- slerp
def test_slerp_unit_vectors_follow_the_great_circle():
    rng = np.random.default_rng(8)
    z0, z1 = rng.standard_normal((2, 64))
    z0 /= np.linalg.norm(z0)
    z1 /= np.linalg.norm(z1)
    t = np.linspace(0, 1, 11)
    path = slerp(z0, z1, t)
    omega = math.acos(z0 @ z1)
    assert_allclose(np.linalg.norm(path, axis=1), 1.0, rtol=1e-14)
    assert_allclose(np.arccos(np.clip(path @ z0, -1, 1)), t * omega, atol=1e-7)
    # the direct formula (Shoemake 1985)
    direct = (np.sin((1 - t[:, None]) * omega) * z0 + np.sin(t[:, None] * omega) * z1) \
        / math.sin(omega)
    assert_allclose(path, direct, atol=1e-15)
    assert_array_equal(path[0], z0)
    assert_array_equal(path[-1], z1)


def test_slerp_matches_scipy_quaternion_slerp():
    from scipy.spatial.transform import Rotation, Slerp

    rng = np.random.default_rng(10)
    q = rng.standard_normal((2, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    if q[0] @ q[1] < 0:  # SciPy takes the short way round
        q[1] = -q[1]
    t = np.linspace(0, 1, 7)
    ours = slerp(q[0], q[1], t)
    theirs = Slerp([0, 1], Rotation.from_quat(q))(t).as_quat()
    theirs *= np.sign(np.sum(theirs * ours, axis=1))[:, None]  # q and -q: same rotation
    assert_allclose(ours, theirs, atol=1e-12)


def test_slerp_shapes_and_edge_cases():
    rng = np.random.default_rng(11)
    z0, z1 = rng.standard_normal((2, 5, 3))
    assert slerp(z0, z1, 0.25).shape == (5, 3)
    assert slerp(z0, z1, [0.0, 0.5, 1.0]).shape == (3, 5, 3)
    assert_array_equal(slerp(z0, z1, 1.0), z1)
    # non-unit Gaussian latents: the norm moves between |z0| and |z1| (White 2016)
    v = slerp(z0[0] * 3, z0[0] * 3 * (1 + 1e-12), 0.5)
    assert_allclose(v, z0[0] * 3, rtol=1e-11)  # nearly parallel: linear fallback
    with pytest.raises(InputError):
        slerp(z0[0], -z0[0], 0.5)
    with pytest.raises(InputError):
        slerp(np.zeros(3), z0[0], 0.5)


def test_latent_path_separates_smooth_from_discontinuous():
    smooth = latent_path(LinearDecoder(), n_paths=4, n_steps=12, rng=3)
    assert smooth.distances.shape == (4, 11) and smooth.z.shape == (4, 12, 8)
    assert smooth.maps.shape == (4, 12, 16, 16)
    assert smooth.smooth and smooth.max_step_ratio < 2.5
    jumpy = latent_path(Hashed(), n_paths=4, n_steps=12, rng=3)
    assert not jumpy.smooth and jumpy.max_step_ratio > 10
    # the same seed gives the same end points
    assert_array_equal(smooth.z, jumpy.z)
    # distances are those of the decoded maps, recomputed independently
    maps = LinearDecoder().decode(smooth.z.reshape(-1, 8)).reshape(4, 12, -1)
    assert_allclose(smooth.distances, np.linalg.norm(np.diff(maps, axis=1), axis=-1),
                    rtol=1e-6)
    with pytest.raises(InputError, match="latent"):
        latent_path(Collapsed(np.zeros((2, M, M))))


# --------------------------------------------------------------------------- results
def test_results_serialise(sets, tmp_path):
    res = nearest_neighbours(sets["generated"][:30], sets["train"][:60], "power",
                             reference=sets["reference"][:40], angle_deg=ANGLE)
    d = json.loads(res.to_json())
    assert d["verdict"] == res.verdict and len(d["indices"]) == 30
    path = res.to_netcdf(tmp_path / "nn.nc")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert_array_equal(ds["nn_index"].values, res.indices)
        assert_array_equal(ds["nn_distance"].values, res.distances)
        assert ds.attrs["verdict"] == res.verdict
    assert "verdict" in res.table()
    png = res.plot(tmp_path / "m.png", sets["generated"][:30], sets["train"][:60],
                   angle_deg=ANGLE, n_show=4)
    assert png.read_bytes()[:4] == b"\x89PNG"

    b = birthday_test(sets["generated"][:40], 20, "pixel", real=sets["reference"])
    bd = json.loads(b.to_json())
    assert bd["n_batches"] == 2 and isinstance(bd["support_estimate"], (float, str))
    with xr.open_dataset(b.to_netcdf(tmp_path / "b.nc"), engine="h5netcdf") as ds:
        assert_array_equal(ds["n_duplicates"].values, b.n_duplicates)
    assert b.plot(tmp_path / "b.png").exists()

    p = latent_path(LinearDecoder(), n_paths=2, n_steps=5, rng=0)
    assert json.loads(p.to_json())["verdict"] == p.verdict
    with xr.open_dataset(p.to_netcdf(tmp_path / "p.nc"), engine="h5netcdf") as ds:
        assert_array_equal(ds["distance"].values, p.distances)
    assert p.plot(tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_input_is_one_line_error(sets):
    gen, train = sets["generated"][:10], sets["train"][:20]
    with pytest.raises(InputError, match="space"):
        nearest_neighbours(gen, train, "wavelet")
    with pytest.raises(InputError, match="degrees"):
        nearest_neighbours(gen, train, "power")
    with pytest.raises(ConfigMismatchError):
        nearest_neighbours(gen[:, :16, :16], train, "pixel")
    with pytest.raises(InputError, match="feature"):
        nearest_neighbours(gen, train, "features", generator=Collapsed(gen))
    bad = gen.copy()
    bad[3, 1, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        nearest_neighbours(bad, train, "pixel")
    with pytest.raises(InputError, match="batch"):
        birthday_test(gen, 20, "pixel", real=train)


def test_import_lensval_stays_light():
    import subprocess
    import sys

    code = ("import sys, lensval.novelty, lensval.cli.novelty; "
            "print(any(m in sys.modules for m in ('torch', 'dask', 'distributed', 'ROOT')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def registered(sets):
    from lensval.plugins import _REGISTERED, register_generator

    train = sets["train"]

    class CliMemoriser(Memoriser):
        def __init__(self, checkpoint=None):
            super().__init__(train)

    register_generator("test-memoriser", CliMemoriser, overwrite=True)
    register_generator("test-linear", LinearDecoder, overwrite=True)
    yield
    _REGISTERED.pop("test-memoriser", None)
    _REGISTERED.pop("test-linear", None)


def test_cli_novelty_and_birthday(sets, tmp_path, registered):
    from click.testing import CliRunner

    from lensval.cli import main

    train = tmp_path / "train.nc"
    ref = tmp_path / "ref.nc"
    lv.save_maps(sets["train"], train, angle_deg=ANGLE)
    lv.save_maps(sets["reference"][:100], ref, angle_deg=ANGLE)
    runner = CliRunner()
    out = runner.invoke(main, ["novelty", "-g", "test-memoriser", "--n", "50",
                               "--train", str(train), "--reference", str(ref), "--json",
                               "--report", str(tmp_path / "rep"),
                               "-o", str(tmp_path / "nov.nc")])
    assert out.exit_code == 0, out.output
    d = json.loads(out.stdout)
    assert d["memorising"] is True
    assert set(d["nearest_neighbours"]) == {"pixel", "power"}
    assert (tmp_path / "rep" / "nn_montage_pixel.png").exists()
    assert (tmp_path / "nov.nc").exists()

    out = runner.invoke(main, ["birthday", "-g", "test-memoriser", "--batch-size", "16",
                               "--n-batches", "3", "--space", "pixel", "--real", str(ref),
                               "--json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.stdout)
    assert d["batch_size"] == 16 and d["n_real"] == 32

    out = runner.invoke(main, ["birthday", "-g", "test-memoriser", "--batch-size", "16",
                               "--space", "features", "--real", str(ref)])
    assert out.exit_code == 2
    assert out.output.strip().count("\n") == 0 and "feature" in out.output


def test_cli_novelty_simulator_defaults(tmp_path):
    """Without --train/--reference the simulator's train/validation splits stand in."""
    from click.testing import CliRunner

    from lensval.cli import main

    out = CliRunner().invoke(main, ["novelty", "-g", "lognormal", "--n", "8",
                                    "--n-train", "24", "--n-reference", "16",
                                    "--space", "power", "--json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.stdout)
    nn = d["nearest_neighbours"]["power"]
    assert nn["n_training"] == 24 and nn["n_reference"] == 16
    assert nn["verdict"] == "novel" and d["latent_path"] is None
    assert "train split" in d["meta"]["training"]


def test_cli_defaults_agree_with_library():
    from lensval import novelty as nv
    from lensval.cli import novelty as cli

    for name in ("N_NOVELTY", "N_TRAIN", "N_REFERENCE", "BATCH_SIZE", "N_BATCHES"):
        assert getattr(cli, name) == getattr(nv, name)


# --------------------------------------------------------------------------- dask
@pytest.mark.dask
def test_birthday_on_dask_equals_serial():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(12)
    maps = rng.standard_normal((60, 10, 10))
    real = rng.standard_normal((60, 10, 10))
    serial = birthday_test(maps, 30, "pixel", real=real, chunk_size=8)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None) as client:
        par = birthday_test(maps, 30, "pixel", real=real, chunk_size=8, client=client)
    assert_array_equal(par.min_distances, serial.min_distances)
    assert_array_equal(par.closest_pairs, serial.closest_pairs)
    assert_array_equal(par.n_duplicates, serial.n_duplicates)
