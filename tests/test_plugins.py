"""Generator plug-ins: discovery through entry points, broken plug-ins, errors, scoring."""

from __future__ import annotations

import warnings
from importlib.metadata import EntryPoint

import numpy as np
import pytest
from click.testing import CliRunner

import lensval as lv
from lensval import plugins
from lensval.cli import main
from lensval.errors import GeneratorNotFoundError


class FakeGenerator(lv.Generator):
    """Smooth Gaussian blobs: a stand-in third-party generator."""

    latent_dim = 4
    map_size = 32
    angle_deg = 0.25
    batch_size = 5

    def decode(self, z):
        y, x = np.mgrid[0:32, 0:32] / 32.0
        return np.stack([0.01 * np.sin(2 * np.pi * (v[0] * x + v[1] * y)) + 0.001 * v[2]
                         for v in z]).astype(np.float32)


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Make the registry see extra entry points, as an installed package would add."""
    real = plugins.entry_points

    def install(*extra):
        def fake(group):
            return list(real(group=group)) + [
                EntryPoint(name, value, plugins.ENTRY_POINT_GROUP) for name, value in extra]

        monkeypatch.setattr(plugins, "entry_points", fake)
        plugins._clear_cache()

    yield install
    plugins._clear_cache()


def test_builtin_generators_are_entry_points():
    gens = lv.list_generators()
    assert {"lognormal", "gaussian"} <= set(gens)
    assert gens["lognormal"].preset == "cosmogan"


def test_fake_plugin_discovered_and_sampled(fake_entry_points):
    fake_entry_points(("fake", "test_plugins:FakeGenerator"))
    assert lv.list_generators()["fake"] is FakeGenerator
    gen = lv.get_generator("fake")
    a = gen.sample(12, np.random.default_rng(3))
    # batch size does not change the maps: latents are drawn once
    b = np.concatenate([blk for _, blk in gen.iter_batches(12, np.random.default_rng(3), 7)])
    np.testing.assert_array_equal(a, b)
    res = CliRunner().invoke(main, ["generators"])
    assert res.exit_code == 0 and "fake" in res.output


def test_broken_plugin_warns_not_crashes(fake_entry_points):
    fake_entry_points(("broken", "no_such_module_xyz:Gen"), ("notagen", "numpy:ndarray"))
    with pytest.warns(RuntimeWarning) as record:
        gens = lv.list_generators()
    messages = " | ".join(str(w.message) for w in record)
    assert "'broken' (no_such_module_xyz:Gen) failed to load" in messages
    assert "'notagen' (numpy:ndarray) is not a lensval.Generator" in messages
    assert "broken" not in gens and "notagen" not in gens and "lognormal" in gens


def test_duplicate_names_warn(fake_entry_points):
    fake_entry_points(("lognormal", "test_plugins:FakeGenerator"))
    with pytest.warns(RuntimeWarning, match="registered twice"):
        lv.list_generators()


def test_unknown_generator_lists_installed():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(GeneratorNotFoundError, match="installed: .*lognormal"):
            lv.get_generator("nope")
        res = CliRunner().invoke(main, ["score", "--generator", "nope", "--n", "10"])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "unknown generator 'nope'" in res.output


def test_register_generator_for_notebooks():
    plugins.register_generator("nb_fake", FakeGenerator, overwrite=True)
    try:
        assert lv.get_generator("nb_fake").sample(2, np.random.default_rng(0)).shape == (2, 32, 32)
    finally:
        plugins._REGISTERED.pop("nb_fake")
