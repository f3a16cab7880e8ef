"""The DCGAN as a lensval generator plug-in (entry point ``dcgan``).

This module is imported by lensval's plug-in discovery, so it must not import torch
at module level: torch (and the model code) is imported when a generator is built.

>>> import lensval as lv, numpy as np
>>> gen = lv.get_generator("dcgan")                          # doctest: +SKIP
>>> maps = gen.sample(64, np.random.default_rng(0))          # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from lensval import _defaults
from lensval.errors import CheckpointError, InputError, LensvalError
from lensval.plugins import Generator

__all__ = ["DCGANGenerator", "default_checkpoint", "import_torch"]

_CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
#: File name of the shipped checkpoint inside ``checkpoints/``.
SHIPPED = "cpu.pt"


def default_checkpoint() -> Path:
    """Path of the shipped checkpoint (the ``cpu`` preset trained on 2 CPU cores)."""
    return _CHECKPOINT_DIR / SHIPPED


def import_torch():
    """Import torch or raise a one-line :class:`LensvalError` saying how to install it."""
    try:
        import torch
    except ImportError:
        raise LensvalError(
            "the dcgan generator needs PyTorch: pip install 'lensval[dcgan]'"
        ) from None
    return torch


class DCGANGenerator(Generator):
    """The CosmoGAN DCGAN (paper Tables 1-2) loaded from a checkpoint.

    Parameters
    ----------
    checkpoint : str or path-like, optional
        A checkpoint written by ``lensval train dcgan`` or the shipped one (default).
    preset : str, optional
        Require the checkpoint to hold this preset (``paper``, ``cpu``).
    device : str, optional
        Torch device (``cpu``, ``cuda``); default ``cuda`` when available.
    dtype : {"float32", "bfloat16"}, optional
        Inference precision. ``float32`` (default) is exact; ``bfloat16`` runs the
        network under bf16 autocast (about 2x faster for the ``paper`` preset on CPUs
        with AVX-512 BF16 / AMX, and on GPUs) with ~0.4% relative error per pixel.
    threads : int, optional
        ``torch.set_num_threads`` for CPU inference.

    Notes
    -----
    :meth:`decode` returns kappa maps: the generator's tanh output ``s`` is mapped back
    with the inverse of the data transform recorded in the checkpoint. The batch-norm
    layers use their running statistics (eval mode), so a map depends only on its own z.
    """

    latent_dim = 64
    angle_deg = _defaults.ANGLE_DEG
    map_size = _defaults.MAP_SIZE
    batch_size = 64

    def __init__(self, checkpoint: str | os.PathLike | None = None, *,
                 preset: str | None = None, device: str | None = None,
                 dtype: str | None = None, threads: int | None = None) -> None:
        torch = import_torch()
        from .checkpoint import file_sha256, load_models
        from .transforms import get_transform

        path = Path(checkpoint) if checkpoint is not None else default_checkpoint()
        if checkpoint is None and not path.is_file():
            raise CheckpointError(
                f"the shipped DCGAN checkpoint {str(path)!r} is missing (broken install?): "
                "reinstall lensval or pass --checkpoint"
            )
        if threads:
            torch.set_num_threads(int(threads))
        self._torch = torch
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = dtype or "float32"
        if dtype not in ("float32", "bfloat16"):
            raise InputError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}")
        self.dtype = dtype
        g, d, blob = load_models(path, preset=preset)
        meta = blob["metadata"]
        self.metadata: dict[str, Any] = meta
        self.preset = g.preset
        self.transform = get_transform(meta["transform"])
        self.latent_dim = int(self.preset.latent_dim)
        self.map_size = int(self.preset.map_size)
        angle = meta.get("angle_deg")
        self.angle_deg = float(angle) if angle else _defaults.ANGLE_DEG
        self.checkpoint = path
        self.checkpoint_sha256 = file_sha256(path)
        mf = torch.channels_last
        self._g = g.to(self.device, memory_format=mf)
        self._d = d.to(self.device, memory_format=mf) if d is not None else None

    # -- Generator API ---------------------------------------------------------------
    def _autocast(self):
        torch = self._torch
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.dtype == "bfloat16")

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Maps for latent vectors.

        Parameters
        ----------
        z : array_like, shape (n, latent_dim)
            Latent vectors (float32 or float64).

        Returns
        -------
        ndarray, shape (n, map_size, map_size), float32
            Maps in kappa units (inverse data transform applied).
        """
        torch = self._torch
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise InputError(
                f"latent vectors must have shape (n, {self.latent_dim}), got {z.shape}"
            )
        if not np.isfinite(z).all():
            raise InputError("latent vectors contain NaN or inf")
        out = np.empty((z.shape[0], self.map_size, self.map_size), dtype=np.float32)
        with torch.inference_mode(), self._autocast():
            for start in range(0, z.shape[0], self.batch_size):
                zb = torch.from_numpy(z[start:start + self.batch_size]).to(self.device)
                s = self._g(zb)[:, 0]
                out[start:start + zb.shape[0]] = self.transform.inverse_torch(s).cpu().numpy()
        return out

    def decode_raw(self, z: np.ndarray) -> np.ndarray:
        """Raw tanh output ``s`` in (-1, 1), ``(n, M, M)`` (no inverse transform)."""
        torch = self._torch
        z = np.asarray(z, dtype=np.float32)
        with torch.inference_mode(), self._autocast():
            s = self._g(torch.from_numpy(z).to(self.device))[:, 0]
            return s.float().cpu().numpy()

    def features(self, maps: np.ndarray) -> np.ndarray | None:
        """Discriminator features of maps, for novelty tests in a learned space.

        The activations of the discriminator's last convolution (after batch norm and
        LeakyReLU), globally average-pooled over the ``M/16 x M/16`` positions: a
        translation-invariant vector of one value per channel (64 for the ``cpu``
        preset, 512 for ``paper``).

        Parameters
        ----------
        maps : array_like, shape (n, M, M)
            Maps in kappa units (transformed as the training data were).

        Returns
        -------
        ndarray, shape (n, C), float32, or None when the checkpoint has no discriminator.
        """
        if self._d is None:
            return None
        torch = self._torch
        maps = np.asarray(maps)
        if maps.ndim != 3 or maps.shape[1:] != (self.map_size, self.map_size):
            raise InputError(
                f"features need maps of shape (n, {self.map_size}, {self.map_size}), "
                f"got {maps.shape}"
            )
        out = np.empty((maps.shape[0], self.preset.d_filters[3]), dtype=np.float32)
        with torch.inference_mode(), self._autocast():
            for start in range(0, maps.shape[0], self.batch_size):
                s = self.transform.forward(maps[start:start + self.batch_size])
                x = torch.from_numpy(s).unsqueeze(1).to(self.device)
                x = x.contiguous(memory_format=torch.channels_last)
                f = self._d.features(x).float().mean(dim=(2, 3))
                out[start:start + x.shape[0]] = f.cpu().numpy()
        return out

    def describe(self) -> dict[str, Any]:
        """Provenance: checkpoint path and SHA-256, preset, training step, transform."""
        meta = self.metadata
        t = self.transform
        info: dict[str, Any] = {
            "generator": self.name or "dcgan",
            "checkpoint": str(self.checkpoint),
            "checkpoint_sha256": self.checkpoint_sha256,
            "preset": self.preset.name,
            "train_step": int(meta.get("step", -1)),
            "transform": t.name if t.name == "none" else
            f"{t.name}(shift={t.shift}, scale={t.scale})",
            "inference_dtype": self.dtype,
        }
        if meta.get("torch_version"):
            info["train_torch_version"] = str(meta["torch_version"])
        return info

    def __repr__(self) -> str:
        return (f"DCGANGenerator(preset={self.preset.name!r}, step={self.metadata.get('step')}, "
                f"checkpoint={str(self.checkpoint)!r})")
