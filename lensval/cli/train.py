"""``lensval train``: train a generator plug-in (only ``dcgan`` supports training)."""

from __future__ import annotations

import click

from lensval.cli import handle_errors

# Kept literal so that `lensval --help` does not import torch; tests check them against
# lensval_dcgan.model.PRESETS and lensval_dcgan.transforms.TRANSFORMS.
PRESET_NAMES = ("cpu", "paper", "tiny")
TRANSFORM_NAMES = ("log", "none")
TRAINABLE = ("dcgan",)


@click.command()
@click.argument("generator")
@click.option("--preset", type=click.Choice(PRESET_NAMES), default="cpu", show_default=True,
              help="paper: Tables 1-2 (a GPU job); cpu: same topology, 1/8 of the filters.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Stop after this many epochs (total, counting resumed ones).")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Stop after this many steps (total, counting resumed ones).")
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="Training maps (.nc/.npy/.npz/FITS); default: simulate the train split.")
@click.option("--n-train", type=click.IntRange(min=1), default=None,
              help="Use the first N maps of --data, or simulate N maps (default 12800).")
@click.option("--angle-deg", type=float, default=None,
              help="Side of one map in degrees (needed for .npy/.npz data).")
@click.option("--transform", type=click.Choice(TRANSFORM_NAMES), default="log",
              show_default=True,
              help="log: s = 2u/(u+0.1)-1, u = kappa+0.06; none: raw kappa (the paper).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Maps per step (the paper: 64).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seeds initialisation, data order, latents, label flips (and the "
                   "simulated data).")
@click.option("--resume", type=click.Path(dir_okay=False), default=None,
              help="Continue from a checkpoint written by this command (same data).")
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=500,
              show_default=True, help="Also checkpoint every K steps (0: per epoch only).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch.")
@click.option("--device", default=None, help="Torch device (default: cuda if available).")
@click.option("--amp/--no-amp", default=None,
              help="bf16 autocast (default: on for CUDA, off on CPU; ~2x faster on CPUs "
                   "with AVX-512 BF16).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder for checkpoints (step_XXXXXXX.pt) and losses.csv.")
@handle_errors
def train(generator: str, preset: str, epochs: int | None, steps: int | None,
          data: str | None, n_train: int | None, angle_deg: float | None, transform: str,
          batch_size: int, seed: int, resume: str | None, checkpoint_every: int,
          threads: int | None, device: str | None, amp: bool | None, out: str) -> None:
    """Train GENERATOR (only `dcgan`) and checkpoint it to --out.

    Example: lensval train dcgan --preset cpu --steps 6000 --threads 2 --out runs/cpu
    """
    from lensval.errors import InputError

    if generator not in TRAINABLE:
        raise InputError(
            f"generator {generator!r} cannot be trained here; trainable: {', '.join(TRAINABLE)}"
        )
    if epochs is None and steps is None:
        raise InputError("give the length of the run: --epochs N or --steps N")
    from lensval_dcgan.plugin import import_torch

    import_torch()  # one-line error with the install hint when torch is missing
    from lensval_dcgan.train import TrainConfig, check_run, simulated_data
    from lensval_dcgan.train import train as run
    from lensval_dcgan.transforms import get_transform

    blob = check_run(out, resume)  # fail before minutes of data preparation

    cfg = TrainConfig(preset=preset, transform=transform, batch_size=batch_size,
                      epochs=epochs, steps=steps,
                      checkpoint_every=checkpoint_every, seed=seed, threads=threads,
                      device=device, amp=amp)
    extra = None
    if data is None:
        n, data_seed, tf = n_train or 12800, seed, get_transform(transform)
        if blob is not None:  # the checkpoint's transform and data define the data
            meta = blob["metadata"]
            tf = get_transform(meta["transform"])
            n = int(meta.get("n_train", n))
            data_seed = int(meta.get("data_seed", seed))
        click.echo(f"simulating {n} training maps (split=train, seed={data_seed})", err=True)
        maps, angle = simulated_data(n, tf, seed=data_seed)
        source = f"lensval.simulate({n}, split='train', seed={data_seed})"
        extra, n_use = {"data_seed": data_seed}, None
    else:
        maps, angle, source, n_use = data, angle_deg, data, n_train

    def log(msg: str) -> None:
        click.echo(msg, err=True)

    res = run(maps, out, cfg, resume=resume, n_train=n_use, angle_deg=angle,
              log=log, source=source, extra_metadata=extra)
    last = res.checkpoints[-1] if res.checkpoints else None
    click.echo(f"trained to step {res.step} (epoch {res.epoch:.2f}) in {res.wall_s:.0f} s; "
               f"last checkpoint: {last}", err=True)
