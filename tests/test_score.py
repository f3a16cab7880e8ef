"""lensval score / lensval.score: generator -> streamed statistics -> comparison with the
shipped reference statistics; the reference files themselves."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import lensval as lv
from lensval import reference
from lensval.cli import main
from lensval.errors import ConfigMismatchError

N = 160


def test_shipped_reference_is_current_and_reproducible():
    """The shipped files match the installed code (recipe, simulator, statistics config),
    and rebuilding the validation set from the recipe gives the same numbers."""
    ds = lv.reference_stats("validation", rebuild=False)
    assert ds.sizes["sample"] == reference.RECIPES["validation"]["n"]
    assert ds.attrs["config_hash"] == lv.StatsConfig().config_hash()
    r = reference.RECIPES["validation"]
    maps = lv.simulate(48, split=r["split"], seed=r["seed"], preset=r["preset"],
                       tiles_per_parent=r["tiles_per_parent"])
    fresh = lv.summarize(maps)
    np.testing.assert_array_equal(fresh["power"].values, ds["power"].values[:48])
    np.testing.assert_array_equal(fresh["minkowski"].values, ds["minkowski"].values[:48])


def test_stale_reference_rebuilt_or_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LENSVAL_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(reference.RECIPES, "development",
                        dict(reference.RECIPES["development"], n=32))
    stale = tmp_path / "reference"
    stale.mkdir()
    xr.Dataset(attrs={"config_hash": "old"}).to_netcdf(stale / "development.nc",
                                                        engine="h5netcdf")
    with pytest.raises(ConfigMismatchError, match="lensval reference build"):
        lv.reference_stats("development", rebuild=False)
    ds = lv.reference_stats("development", progress=False)  # rebuilt into the cache
    assert ds.sizes["sample"] == 32 and ds.attrs["reference_n"] == 32
    assert lv.reference_stats("development", rebuild=False).sizes["sample"] == 32


@pytest.mark.parametrize("gen, disagree", [("lognormal", set()),
                                           ("gaussian", {"pixel", "minkowski_V0"})])
def test_score_simulator_controls(gen, disagree):
    res = lv.score(gen, n=N, seed=3, n_resamples=199)
    flagged = {k for k, v in res.verdicts.items() if v == "disagree"}
    assert disagree <= flagged, res.table()
    if not disagree:
        assert res.agree, res.table()
    assert res.n_b == N and res.meta["generator"] == gen


def test_score_fake_plugin_and_cli(tmp_path):
    class Scaled(lv.Generator):
        """Simulator maps with 10% too much power: a biased generator."""

        latent_dim = 0

        def sample(self, n, rng):
            from lensval.simulator import simulate_array

            return simulate_array(n, split="train", seed=int(rng.integers(2**31)),
                                  tiles_per_parent=1) * np.sqrt(1.1)

    lv.register_generator("scaled_fake", Scaled, overwrite=True)
    try:
        r = CliRunner().invoke(main, ["-q", "score", "--generator", "scaled_fake", "--n", str(N),
                                      "--n-resamples", "199", "--json"])
        assert r.exit_code == 0, r.output
        d = json.loads(r.stdout)
        assert d["verdicts"]["power_mean"] == "disagree"
        assert d["n_b"] == N
    finally:
        lv.plugins._REGISTERED.pop("scaled_fake")


def test_score_refuses_mismatched_geometry():
    class Small(lv.Generator):
        latent_dim = 2
        map_size = 64

        def decode(self, z):
            return np.zeros((len(z), 64, 64), np.float32)

    with pytest.raises(ConfigMismatchError, match="64\\^2 maps"):
        lv.score(Small, n=4)


def test_score_rejects_nan_maps():
    class Broken(lv.Generator):
        latent_dim = 2

        def decode(self, z):
            out = np.zeros((len(z), 256, 256), np.float32)
            out[:, 0, 0] = np.nan
            return out

    with pytest.raises(lv.InputError, match="generated maps: 4 NaN pixel.s., first in sample 0"):
        lv.score(Broken, n=4)
