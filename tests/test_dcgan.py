"""Tests of the reference DCGAN plug-in (lensval_dcgan): architecture, training, resume,
checkpoint safety, plug-in discovery and the shipped checkpoint."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lensval_dcgan import checkpoint as ckpt  # noqa: E402
from lensval_dcgan.model import (  # noqa: E402
    PRESETS,
    build_models,
    count_parameters,
    layer_parameter_counts,
)
from lensval_dcgan.train import TrainConfig, train  # noqa: E402
from lensval_dcgan.transforms import TRANSFORMS, Transform, get_transform  # noqa: E402

from lensval.errors import CheckpointError, InputError  # noqa: E402

pytestmark = pytest.mark.torch

# Table 1 of the paper (rows; "8.5M" = 64*512*16*16 + 512*16*16, etc.), in order:
# Dense, BN, TConv, BN, TConv, BN, TConv, BN, TConv.
TABLE1 = [8.5e6, 1024, 3.3e6, 512, 819e3, 256, 205e3, 128, 1601]


def _round_like(exact: int, printed: float) -> bool:
    """True if ``exact`` rounds to the table's printed value (2-3 significant digits)."""
    if printed < 2000:
        return exact == printed
    digits = 2 if printed >= 1e6 else 3
    return float(f"{exact:.{digits}g}") == printed


# ----------------------------------------------------------------------- architecture
def test_paper_generator_matches_table1_layer_by_layer():
    g, _ = build_models("paper")
    counts = [c for _, c in layer_parameter_counts(g)]
    assert len(counts) == len(TABLE1)
    for exact, printed in zip(counts, TABLE1, strict=True):
        assert _round_like(exact, printed), (exact, printed)
    # independent arithmetic for the exact values (weights + biases of each layer)
    z, c0, side, k = 64, 512, 16, 5
    expected = [z * c0 * side**2 + c0 * side**2, 2 * 512, 512 * 256 * k * k, 2 * 256,
                256 * 128 * k * k, 2 * 128, 128 * 64 * k * k, 2 * 64, 64 * 1 * k * k + 1]
    assert counts == expected
    # the table's printed total (12.3M) disagrees with its rows; the rows sum to 12.82M
    assert count_parameters(g) == sum(expected) == 12_824_001


def test_paper_discriminator_matches_table2_total():
    _, d = build_models("paper")
    assert count_parameters(d) == 4_436_225
    rows = dict(layer_parameter_counts(d))
    assert rows["conv1"] == 1 * 64 * 25 + 64  # Table 2: 1664
    assert rows["bn2"] == 256 and rows["bn3"] == 512 and rows["bn4"] == 1024
    assert rows["linear"] == 512 * 16 * 16 + 1


@pytest.mark.parametrize("preset", ["paper", "cpu"])
def test_shapes_and_tanh_range(preset):
    p = PRESETS[preset]
    g, d = build_models(preset, seed=0)
    g.eval()
    d.eval()
    with torch.inference_mode():
        x = g(torch.randn(2, p.latent_dim) * 3)
        logits = d(x)
        feats = d.features(x)
    assert x.shape == (2, 1, 256, 256)
    assert float(x.abs().max()) < 1.0
    assert logits.shape == (2,)
    assert feats.shape == (2, p.d_filters[3], 16, 16)


# ----------------------------------------------------------------------- transforms
def test_transform_round_trip_and_range():
    rng = np.random.default_rng(1)
    kappa = np.concatenate([rng.lognormal(-3, 1, 5000) - 0.06, [-0.0599, 0.0, 0.5, 3.0]])
    for t in TRANSFORMS.values():
        s = t.forward(kappa)
        back = t.inverse(s)
        np.testing.assert_allclose(back, kappa.astype(np.float32), rtol=2e-5, atol=2e-7)
    s = get_transform("log").forward(kappa)
    assert s.min() > -1 and s.max() < 1
    assert np.all(np.diff(s[np.argsort(kappa)]) >= 0)  # monotone
    # closed form at the stated anchor points: kappa = -shift -> -1, u = scale -> 0
    t = Transform("log", shift=0.06, scale=0.1)
    np.testing.assert_allclose(t.forward(np.array([-0.06, 0.04])), [-1.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(t.inverse_torch(torch.tensor([0.0, 0.5])).numpy(),
                               t.inverse(np.array([0.0, 0.5])), rtol=1e-6)
    with pytest.raises(ValueError):
        get_transform("sqrt")


# ----------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(7)
    # lognormal-ish 64^2 fields: enough for the loop, the values do not matter here
    return (rng.lognormal(-3.5, 0.6, (48, 64, 64)) - 0.04).astype(np.float32)


def _cfg(**kw):
    base = dict(preset="tiny", batch_size=8, checkpoint_every=3, seed=11, threads=1,
                flip_prob=0.3)  # frequent flips so that resuming must restore them too
    base.update(kw)
    return TrainConfig(**base)


def test_train_resume_identical_losses(tmp_path, tiny_data):
    # 8 steps straight, vs 3 steps + resume to 8: 6 steps per epoch, so the resumed run
    # crosses an epoch boundary (new permutation drawn from the restored RNG)
    full = train(tiny_data, tmp_path / "a", _cfg(steps=8), angle_deg=0.2, progress=False)
    assert [s for s, *_ in full.losses] == list(range(1, 9))
    first = train(tiny_data, tmp_path / "b", _cfg(steps=3), angle_deg=0.2, progress=False)
    assert first.checkpoints[-1].name == "step_0000003.pt"
    resumed = train(tiny_data, tmp_path / "b", TrainConfig(steps=8, threads=1),
                    resume=first.checkpoints[-1], angle_deg=0.2, progress=False)
    assert first.losses + resumed.losses == full.losses
    # the final weights agree too
    a = ckpt.load_checkpoint(tmp_path / "a" / "step_0000008.pt")
    b = ckpt.load_checkpoint(tmp_path / "b" / "step_0000008.pt")
    for k, v in a["generator"].items():
        assert torch.equal(v, b["generator"][k]), k
    meta = b["metadata"]
    assert meta["step"] == 8 and meta["preset"]["name"] == "tiny"
    assert meta["transform"]["name"] == "log" and meta["torch_version"] == torch.__version__
    # epoch checkpoints (6) and every-3-step checkpoints were written
    names = sorted(p.name for p in (tmp_path / "a").glob("step_*.pt"))
    assert names == ["step_0000003.pt", "step_0000006.pt", "step_0000008.pt"]
    lines = (tmp_path / "b" / "losses.csv").read_text().strip().splitlines()
    assert len(lines) == 1 + 8


def test_train_rejects_bad_input(tmp_path, tiny_data):
    with pytest.raises(InputError):
        train(tiny_data, tmp_path, _cfg(), angle_deg=0.2)  # no epochs/steps
    with pytest.raises(InputError):
        train(tiny_data[:, :32, :32], tmp_path, _cfg(steps=1), angle_deg=0.2)
    with pytest.raises(InputError):
        train(tiny_data[:4], tmp_path, _cfg(steps=1), angle_deg=0.2)
    # a fresh run must not mix its checkpoints with another run's
    train(tiny_data, tmp_path / "run", _cfg(steps=1), angle_deg=0.2, progress=False)
    with pytest.raises(InputError, match="resume"):
        train(tiny_data, tmp_path / "run", _cfg(steps=1), angle_deg=0.2, progress=False)


# ----------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, tiny_data):
    out = tmp_path_factory.mktemp("tinyckpt")
    res = train(tiny_data, out, _cfg(steps=2, checkpoint_every=2), angle_deg=0.2,
                progress=False)
    return res.checkpoints[-1]


def test_malicious_pickle_is_refused(tmp_path, tiny_checkpoint):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "evil.pt"
    # a real torch archive whose pickle calls os.system on load
    torch.save({"format": "lensval-dcgan", "payload": Evil()}, bad)
    with pytest.raises(CheckpointError) as err:
        ckpt.load_checkpoint(bad)
    assert "\n" not in str(err.value)
    assert not marker.exists()
    # a plain pickle file (not a torch zip) with the same payload
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError):
        ckpt.load_checkpoint(raw)
    assert not marker.exists()


def test_corrupt_and_truncated_checkpoints_are_refused(tmp_path, tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    for name, blob in [("trunc.pt", data[: len(data) // 2]), ("empty.pt", b""),
                       ("junk.pt", b"\x00" * 1000)]:
        p = tmp_path / name
        p.write_bytes(blob)
        with pytest.raises(CheckpointError) as err:
            ckpt.load_checkpoint(p)
        assert "\n" not in str(err.value)
    # flip bytes inside the weights record: zip CRC check must catch it
    buf = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = max(z.infolist(), key=lambda i: i.file_size)
    mid = info.header_offset + 200
    buf[mid:mid + 64] = bytes(64)
    p = tmp_path / "flipped.pt"
    p.write_bytes(bytes(buf))
    with pytest.raises(CheckpointError):
        from lensval_dcgan.checkpoint import load_models

        load_models(p)
    with pytest.raises(CheckpointError):
        ckpt.load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_shape_and_preset_mismatch(tmp_path, tiny_checkpoint):
    blob = ckpt.load_checkpoint(tiny_checkpoint)
    meta = dict(blob["metadata"])
    # weights of a tiny model described as a cpu-preset model
    meta["preset"] = PRESETS["cpu"].to_dict()
    bad = tmp_path / "mismatch.pt"
    ckpt.save_checkpoint(bad, metadata=meta, generator=blob["generator"])
    with pytest.raises(CheckpointError, match="shape|missing"):
        ckpt.load_models(bad)
    with pytest.raises(CheckpointError, match="preset"):
        ckpt.load_models(tiny_checkpoint, preset="cpu")
    # a plain state dict (no format tag) is not a lensval checkpoint
    plain = tmp_path / "plain.pt"
    torch.save(blob["generator"], plain)
    with pytest.raises(CheckpointError, match="format"):
        ckpt.load_checkpoint(plain)


def test_plugin_decode_features_and_half_precision(tmp_path, tiny_checkpoint):
    from lensval_dcgan.plugin import DCGANGenerator

    blob = ckpt.load_checkpoint(tiny_checkpoint)
    half = tmp_path / "half.pt"
    ckpt.save_checkpoint(half, metadata=blob["metadata"],
                         generator=ckpt.half_precision(blob["generator"]),
                         discriminator=ckpt.half_precision(blob["discriminator"]))
    full, small = DCGANGenerator(tiny_checkpoint), DCGANGenerator(half)
    assert small.angle_deg == 0.2 and small.map_size == 64
    rng = np.random.default_rng(3)
    z = rng.standard_normal((5, 64)).astype(np.float32)
    a, b = full.decode(z), small.decode(z)
    assert a.shape == (5, 64, 64) and a.dtype == np.float32
    assert np.all(np.isfinite(a)) and np.all(a > -0.06)
    np.testing.assert_allclose(a, b, atol=2e-3 * float(np.abs(a).max()))
    # decode is the inverse transform of the raw tanh output
    raw = full.decode_raw(z)
    assert np.all(np.abs(raw) < 1)
    np.testing.assert_allclose(a, full.transform.inverse(raw), rtol=1e-5, atol=1e-7)
    # sample() is reproducible and independent of batch size
    s1 = full.sample(7, np.random.default_rng(5))
    full.batch_size = 3
    s2 = full.sample(7, np.random.default_rng(5))
    np.testing.assert_allclose(s1, s2, rtol=1e-5, atol=1e-7)
    f = full.features(s1)
    assert f.shape == (7, PRESETS["tiny"].d_filters[3]) and np.all(np.isfinite(f))
    d = full.describe()
    assert d["preset"] == "tiny" and len(d["checkpoint_sha256"]) == 64
    with pytest.raises(InputError):
        full.decode(np.zeros((2, 3)))


# ----------------------------------------------------------------------- discovery, shipped
def test_plugin_module_does_not_import_torch():
    code = ("import sys, lensval, lensval_dcgan.plugin, lensval_dcgan.transforms; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_entry_point_discovery_finds_dcgan():
    import lensval

    gens = lensval.list_generators()
    assert "dcgan" in gens
    from lensval_dcgan.plugin import DCGANGenerator

    assert gens["dcgan"] is DCGANGenerator


def test_shipped_checkpoint_decodes_plausible_maps():
    from lensval_dcgan.plugin import DCGANGenerator, default_checkpoint

    if not default_checkpoint().is_file():
        pytest.fail(f"shipped checkpoint {default_checkpoint()} is missing")
    gen = DCGANGenerator()
    assert gen.preset.name == "cpu" and gen.angle_deg == pytest.approx(np.sqrt(12) / 4)
    maps = gen.sample(64, np.random.default_rng(0))
    assert maps.shape == (64, 256, 256) and maps.dtype == np.float32
    assert np.all(np.isfinite(maps))
    assert maps.min() >= -0.06  # the lognormal floor (inverse transform of s = -1)
    # pixel std of the cosmogan reference maps is ~0.039 (lensval.simulate)
    assert 0.02 < float(maps.std()) < 0.07
    assert abs(float(maps.mean())) < 0.02
    assert gen.features(maps[:4]).shape == (4, 64)


def test_cli_train_errors(tmp_path):
    from click.testing import CliRunner

    from lensval.cli import main

    r = CliRunner().invoke(main, ["train", "lognormal", "--steps", "1", "--out",
                                  str(tmp_path / "o")])
    assert r.exit_code == 2 and "cannot be trained" in r.output
    r = CliRunner().invoke(main, ["train", "dcgan", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--steps" in r.output
    # the shipped file has no optimiser state: refused before any data is simulated
    from lensval_dcgan.plugin import default_checkpoint

    r = CliRunner().invoke(main, ["train", "dcgan", "--steps", "1", "--resume",
                                  str(default_checkpoint()), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no training state" in r.output
    assert not (tmp_path / "o").exists()


def test_cli_train_without_torch(tmp_path):
    code = ("import sys; sys.modules['torch'] = None\n"
            "from lensval.cli import main\n"
            f"main(['train', 'dcgan', '--steps', '1', '--out', {str(tmp_path / 'o')!r}])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 2
    msg = "Error: the dcgan generator needs PyTorch: pip install 'lensval[dcgan]'"
    assert r.stderr.strip() == msg


def test_cli_literals_match_library():
    from lensval.cli import train as cli_train

    assert set(cli_train.PRESET_NAMES) == set(PRESETS)
    assert set(cli_train.TRANSFORM_NAMES) == set(TRANSFORMS)


def test_cli_train_tiny_run(tmp_path, tiny_data):
    from click.testing import CliRunner

    from lensval.cli import main

    data = tmp_path / "maps.npy"
    np.save(data, tiny_data)
    r = CliRunner().invoke(main, ["train", "dcgan", "--preset", "tiny", "--steps", "2",
                                  "--data", str(data), "--angle-deg", "0.2",
                                  "--batch-size", "8", "--threads", "1",
                                  "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run" / "step_0000002.pt").is_file()
    # the default batch (64) is more than the 48 maps: a one-line error, exit 2
    r = CliRunner().invoke(main, ["train", "dcgan", "--preset", "tiny", "--steps", "2",
                                  "--data", str(data), "--angle-deg", "0.2",
                                  "--out", str(tmp_path / "run2")])
    assert r.exit_code == 2 and "batch" in r.output and len(r.output.splitlines()) == 1
