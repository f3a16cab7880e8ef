"""Training loop of the DCGAN (paper Sect. 2.3), with exact resume.

Recipe: non-saturating GAN loss (``BCEWithLogits``; the generator maximises
``log D(G(z))``), Adam with lr 2e-4, betas (0.5, 0.999), batch 64, and with probability
1% per batch the real and fake labels of the discriminator's batch are swapped (as the
original CosmoGAN code does, to keep the discriminator from winning too early).

Every random draw of the loop -- the data order, the latent vectors and the label
flips -- comes from one seeded :class:`numpy.random.Generator`; its state, the current
epoch's data order, the model and optimiser states and the step counter are saved
in every checkpoint, so a resumed run continues with exactly the losses an
uninterrupted run would have produced (same device and thread count).

Checkpoints are written every ``checkpoint_every`` steps and at the end of every
epoch, to ``<out>/step_XXXXXXX.pt``; ``<out>/losses.csv`` logs every step.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lensval.errors import CheckpointError, InputError

from .checkpoint import load_checkpoint, save_checkpoint
from .model import build_models, get_preset
from .transforms import Transform, get_transform

__all__ = ["TrainConfig", "TrainResult", "train", "check_run", "prepare_data",
           "simulated_data"]


@dataclass
class TrainConfig:
    """Hyper-parameters and run settings of :func:`train`.

    Parameters
    ----------
    preset : str
        Architecture (``paper``, ``cpu``, ``tiny``; see :data:`lensval_dcgan.model.PRESETS`).
    transform : str or dict
        Data transform (``log`` or ``none``; see :mod:`lensval_dcgan.transforms`).
    batch_size, lr, beta1, beta2, flip_prob
        The paper's recipe: 64, 2e-4, 0.5, 0.999, 0.01.
    epochs, steps : int, optional
        Stop after this many epochs or (total) steps, whichever comes first; one of
        them is required. Counts are absolute: a resumed run stops at the same place.
    checkpoint_every : int
        Also checkpoint every this many steps (CPU epochs are long); 0 = epochs only.
    seed : int
        Seeds the initialisation (torch) and every draw of the loop (numpy).
    threads : int, optional
        ``torch.set_num_threads`` (CPU).
    device : str, optional
        ``cuda`` when available, else ``cpu``.
    amp : bool, optional
        bf16 autocast (weights and optimiser stay float32); default on for CUDA, off on
        CPU. On CPUs with AVX-512 BF16 it halves the step time of the ``cpu`` preset.
    channels_last : bool
        NHWC memory format (about 2x faster convolutions on CPU).
    """

    preset: str = "cpu"
    transform: str | dict = "log"
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    flip_prob: float = 0.01
    epochs: int | None = None
    steps: int | None = None
    checkpoint_every: int = 500
    seed: int = 0
    threads: int | None = None
    device: str | None = None
    amp: bool | None = None
    channels_last: bool = True
    log_every: int = 50


@dataclass
class TrainResult:
    """What :func:`train` did: final step, checkpoints written and per-step losses."""

    step: int
    epoch: float
    checkpoints: list[Path] = field(default_factory=list)
    losses: list[tuple[int, float, float]] = field(default_factory=list)
    wall_s: float = 0.0


def prepare_data(maps: Any, transform: Transform, *, n_train: int | None = None,
                 angle_deg: float | None = None, chunk_size: int = 256,
                 ) -> tuple[np.ndarray, float]:
    """Load maps, apply the transform, keep them in memory as float16.

    Parameters
    ----------
    maps : path, array_like or xarray.DataArray
        ``(N, M, M)`` kappa maps (a file is opened with :func:`lensval.open_maps`).
    transform : Transform
        kappa -> s.
    n_train : int, optional
        Use only the first ``n_train`` maps.

    Returns
    -------
    data : ndarray, shape (n, M, M), float16
        Transformed maps (float16 halves the memory; its 1e-3 relative precision is far
        below what a GAN resolves).
    angle_deg : float
        Side of one map in degrees.
    """
    from lensval.io import as_maps, iter_chunks, open_maps

    if isinstance(maps, (str, os.PathLike)):
        da = open_maps(maps, angle_deg=angle_deg)
    else:
        da = as_maps(maps, angle_deg=angle_deg)
    if n_train is not None:
        if n_train <= 0:
            raise InputError(f"n_train must be positive, got {n_train}")
        da = da.isel(sample=slice(0, n_train))
    n, m, _ = da.shape
    out = np.empty((n, m, m), dtype=np.float16)
    for start, block in iter_chunks(da, chunk_size, dtype=np.float64, name="training maps"):
        out[start:start + block.shape[0]] = transform.forward(block)
    return out, float(da.attrs["angle_deg"])


def simulated_data(n: int, transform: Transform, *, seed: int = 0,
                   preset: str = "cosmogan") -> tuple[np.ndarray, float]:
    """Simulate ``n`` maps of the ``train`` split straight into transformed float16.

    Streams :func:`lensval.simulator.iter_simulate` chunk by chunk so that only the
    float16 array (``n * 128 KiB``) is held, never the float32 ensemble.

    Returns
    -------
    data : ndarray, shape (n, 256, 256), float16
    angle_deg : float
    """
    from lensval import _defaults
    from lensval.simulator import iter_simulate

    out = None
    for start, block in iter_simulate(n, split="train", seed=seed, preset=preset):
        if out is None:
            out = np.empty((n, *block.shape[1:]), dtype=np.float16)
        out[start:start + block.shape[0]] = transform.forward(block)
    return out, _defaults.ANGLE_DEG


def check_run(out: str | os.PathLike, resume: str | os.PathLike | None = None
              ) -> dict[str, Any] | None:
    """Validate a run's output folder and resume checkpoint before any work is done.

    Returns the loaded resume checkpoint (or None). Raises InputError when ``out``
    already holds another run's checkpoints (and no resume is given), CheckpointError
    when ``resume`` is unreadable or has no training state.
    """
    outdir = Path(out)
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"output '{outdir}' is a file: --out needs a folder")
    if resume is None:
        if outdir.is_dir() and any(outdir.glob("step_*.pt")):
            raise InputError(
                f"output folder '{outdir}' already holds checkpoints of another run: "
                "pass --resume CHECKPOINT to continue it, or choose a new --out"
            )
        return None
    blob = load_checkpoint(resume)
    if "training" not in blob or "discriminator" not in blob:
        raise CheckpointError(
            f"DCGAN checkpoint {str(resume)!r} has no training state (a shipped, "
            "sampling-only file?): resume from a checkpoint written by `lensval train`"
        )
    return blob


def _rng_state_json(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _set_rng_state(rng: np.random.Generator, state: str) -> None:
    rng.bit_generator.state = json.loads(state)


def train(data: Any, out: str | os.PathLike, config: TrainConfig | None = None, *,
          resume: str | os.PathLike | None = None, n_train: int | None = None,
          angle_deg: float | None = None, progress: bool | None = None,
          log: Callable[[str], None] | None = None, source: str | None = None,
          extra_metadata: dict[str, Any] | None = None) -> TrainResult:
    """Train (or resume training) the DCGAN on kappa maps.

    Parameters
    ----------
    data : path, array_like or xarray.DataArray, or ndarray float16 from :func:`prepare_data`
        Training maps ``(N, M, M)`` in kappa units (a float16 array is taken as already
        transformed with ``config.transform``).
    out : path-like
        Folder for checkpoints and ``losses.csv`` (created if missing).
    config : TrainConfig
        Settings; when resuming, the checkpoint's recipe is used and only ``epochs``,
        ``steps``, ``checkpoint_every``, ``threads``, ``device`` are taken from here.
    resume : path-like, optional
        Checkpoint written by this function to continue from.
    n_train : int, optional
        Use the first ``n_train`` maps only.
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).
    log : callable, optional
        Receives a one-line summary every ``config.log_every`` steps.
    source : str, optional
        Description of the data recorded in the metadata.
    extra_metadata : dict, optional
        JSON-able items added to every checkpoint's metadata (e.g. ``data_seed``).

    Returns
    -------
    TrainResult
    """
    from lensval import __version__ as lensval_version
    from lensval._progress import progress_bar

    cfg = config or TrainConfig()
    blob = check_run(out, resume)
    if blob is not None:
        saved = blob["metadata"]["train_config"]
        keep = {k: getattr(cfg, k) for k in
                ("epochs", "steps", "checkpoint_every", "threads", "device", "log_every")}
        if cfg.amp is not None:
            keep["amp"] = cfg.amp
        cfg = TrainConfig(**{**saved, **keep})
    if cfg.epochs is None and cfg.steps is None:
        raise InputError("give the length of the run: epochs=... or steps=...")
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    amp = cfg.amp if cfg.amp is not None else device.type == "cuda"
    preset = get_preset(cfg.preset)
    transform = get_transform(cfg.transform)
    cfg.transform = transform.to_dict()

    if isinstance(data, np.ndarray) and data.dtype == np.float16:
        arr = data[:n_train] if n_train else data
        angle = float(angle_deg) if angle_deg is not None else None
    else:
        arr, angle = prepare_data(data, transform, n_train=n_train, angle_deg=angle_deg)
    n, m = arr.shape[0], arr.shape[1]
    if arr.ndim != 3 or arr.shape[1:] != (preset.map_size, preset.map_size):
        raise InputError(
            f"training maps are {arr.shape[1]}x{arr.shape[2]} pixels; preset "
            f"{preset.name!r} generates {preset.map_size}x{preset.map_size}"
        )
    bs = cfg.batch_size
    if n < bs:
        raise InputError(f"need at least one batch of training maps ({bs}), got {n}")
    steps_per_epoch = n // bs
    total = steps_per_epoch * cfg.epochs if cfg.epochs is not None else math.inf
    if cfg.steps is not None:
        total = min(total, cfg.steps)
    total = int(total)

    # -- models, optimisers, RNG ----------------------------------------------------
    g, d = build_models(preset, seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    step, perm, wall0 = 0, None, 0.0
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    if blob is not None:
        g.load_state_dict(blob["generator"])
        d.load_state_dict(blob["discriminator"])
        tr = blob["training"]
        opt_g.load_state_dict(tr["opt_g"])
        opt_d.load_state_dict(tr["opt_d"])
        _set_rng_state(rng, tr["numpy_rng"])
        torch.set_rng_state(tr["torch_rng"])
        step = int(tr["step"])
        perm = tr["perm"].numpy()
        wall0 = float(blob["metadata"].get("wall_s", 0.0))
        if tr["n_train"] != n:
            raise InputError(
                f"resuming needs the same training set: the checkpoint saw {tr['n_train']} "
                f"maps, this run has {n}"
            )
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format
    g.to(device, memory_format=mf).train()
    d.to(device, memory_format=mf).train()
    for opt in (opt_g, opt_d):  # optimiser state follows its parameters' device
        for st in opt.state.values():
            for k, v in st.items():
                if torch.is_tensor(v) and k != "step":
                    st[k] = v.to(device)

    bce = nn.BCEWithLogitsLoss()
    ones = torch.ones(bs, device=device)
    zeros = torch.zeros(bs, device=device)
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    result = TrainResult(step=step, epoch=step / steps_per_epoch)

    def metadata() -> dict[str, Any]:
        return {
            "preset": preset.to_dict(),
            "transform": transform.to_dict(),
            "angle_deg": angle,
            "map_size": m,
            "latent_dim": preset.latent_dim,
            "step": step,
            "epoch": step / steps_per_epoch,
            "steps_per_epoch": steps_per_epoch,
            "n_train": n,
            "seed": cfg.seed,
            "source": source,
            "train_config": asdict(cfg),
            "device": str(device) + (f" ({torch.cuda.get_device_name(device)})"
                                     if device.type == "cuda" else ""),
            "threads": torch.get_num_threads(),
            "amp_bf16": bool(amp),
            "torch_version": torch.__version__,
            "lensval_version": lensval_version,
            "wall_s": wall0 + (time.perf_counter() - t0),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **(extra_metadata or {}),
        }

    def checkpoint() -> Path:
        path = outdir / f"step_{step:07d}.pt"
        training = {
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "numpy_rng": _rng_state_json(rng),
            "torch_rng": torch.get_rng_state(),
            "step": step,
            "perm": torch.from_numpy(np.asarray(perm, dtype=np.int64)),
            "n_train": n,
        }
        save_checkpoint(path, metadata=metadata(), generator=g.state_dict(),
                        discriminator=d.state_dict(), training=training)
        result.checkpoints.append(path)
        return path

    t0 = time.perf_counter()
    loss_file = outdir / "losses.csv"
    new_file = not loss_file.exists() or step == 0
    with open(loss_file, "w" if new_file else "a", newline="") as fh, \
            progress_bar(total - step, f"train dcgan[{preset.name}]", unit="step",
                         progress=progress) as bar:
        writer = csv.writer(fh)
        if new_file:
            writer.writerow(["step", "epoch", "loss_d", "loss_g", "d_real", "d_fake",
                             "flipped", "wall_s"])
        while step < total:
            pos = step % steps_per_epoch
            if pos == 0 or perm is None:
                perm = rng.permutation(n)
            idx = np.sort(perm[pos * bs:(pos + 1) * bs])
            real = torch.from_numpy(arr[idx].astype(np.float32)).unsqueeze(1)
            real = real.to(device).contiguous(memory_format=mf)
            z = torch.from_numpy(rng.standard_normal((bs, preset.latent_dim),
                                                     dtype=np.float32)).to(device)
            flipped = bool(rng.random() < cfg.flip_prob)
            y_real, y_fake = (zeros, ones) if flipped else (ones, zeros)

            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                fake = g(z)
                # discriminator: real vs fake (labels swapped with prob flip_prob)
                logit_real = d(real).float()
                logit_fake = d(fake.detach()).float()
                loss_d = bce(logit_real, y_real) + bce(logit_fake, y_fake)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                # generator: non-saturating loss -log D(G(z)) with the updated D
                loss_g = bce(d(fake).float(), ones)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            step += 1

            ld, lg = float(loss_d.detach()), float(loss_g.detach())
            if not (math.isfinite(ld) and math.isfinite(lg)):
                raise RuntimeError(f"training diverged at step {step} (loss_d={ld}, loss_g={lg})")
            d_real = float(torch.sigmoid(logit_real.detach()).mean())
            d_fake = float(torch.sigmoid(logit_fake.detach()).mean())
            result.losses.append((step, ld, lg))
            wall = wall0 + time.perf_counter() - t0
            writer.writerow([step, f"{step / steps_per_epoch:.4f}", f"{ld:.6f}", f"{lg:.6f}",
                             f"{d_real:.4f}", f"{d_fake:.4f}", int(flipped), f"{wall:.1f}"])
            bar.update(1)
            bar.set_postfix(loss_d=f"{ld:.3f}", loss_g=f"{lg:.3f}")
            if log is not None and cfg.log_every and step % cfg.log_every == 0:
                log(f"step {step}/{total} epoch {step / steps_per_epoch:.2f} "
                    f"loss_d {ld:.4f} loss_g {lg:.4f} D(x) {d_real:.3f} D(G(z)) {d_fake:.3f} "
                    f"{wall:.0f}s")
            end_of_epoch = step % steps_per_epoch == 0
            if end_of_epoch or step == total or (
                    cfg.checkpoint_every and step % cfg.checkpoint_every == 0):
                fh.flush()
                path = checkpoint()
                if log is not None:
                    log(f"checkpoint {path}")
    result.step = step
    result.epoch = step / steps_per_epoch
    result.wall_s = time.perf_counter() - t0
    return result
