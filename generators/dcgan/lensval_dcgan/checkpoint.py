"""Checkpoint files of the DCGAN: plain tensors + JSON metadata, loaded safely.

A checkpoint is untrusted input. It is written with :func:`torch.save` as a dict that
holds only tensors, numbers, strings and containers of them, and it is read with
``torch.load(weights_only=True)``, whose restricted unpickler refuses any object that
would run code (a crafted ``__reduce__`` calling ``os.system``, say). Every failure to
read one -- missing, truncated, corrupt, a pickle with code, missing keys, shapes that
do not fit the preset -- is a :class:`lensval.errors.CheckpointError` with a one-line
message.

Layout (``format = "lensval-dcgan"``, ``format_version = 1``)::

    {
      "format": "lensval-dcgan", "format_version": 1,
      "metadata": "<JSON>",          # preset, transform, angle_deg, step, epoch, seed, ...
      "generator": {name: tensor},   # state dict (fp16 in the shipped file)
      "discriminator": {name: tensor} | absent,
      "training": {...} | absent,    # optimiser states, RNG states, data order (resume)
    }
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import torch

from lensval.errors import CheckpointError
from lensval.io import atomic_path

from .model import DCGANDiscriminator, DCGANGenerator, get_preset

__all__ = ["FORMAT", "FORMAT_VERSION", "save_checkpoint", "load_checkpoint",
           "load_models", "file_sha256", "half_precision"]

FORMAT = "lensval-dcgan"
FORMAT_VERSION = 1


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file (recorded in provenance)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, *, metadata: dict[str, Any],
                    generator: dict[str, torch.Tensor],
                    discriminator: dict[str, torch.Tensor] | None = None,
                    training: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically (temp file + rename).

    Parameters
    ----------
    path : path-like
        Target file (``.pt``).
    metadata : dict
        JSON-able description; must contain ``preset`` (a dict) and ``transform``.
    generator, discriminator : dict of str to Tensor
        State dicts (tensors are detached and moved to the CPU).
    training : dict, optional
        Resume state: optimiser state dicts, RNG states, step counters (plain values).
    """
    blob: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": json.dumps(metadata, sort_keys=True),
        "generator": _cpu(generator),
    }
    if discriminator is not None:
        blob["discriminator"] = _cpu(discriminator)
    if training is not None:
        blob["training"] = training
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)
    return Path(path)


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def half_precision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors of a state dict in float16 (integer buffers unchanged)."""
    return {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a checkpoint; ``metadata`` is returned decoded (a dict).

    Raises
    ------
    lensval.errors.CheckpointError
        Missing, unreadable, corrupt or untrusted file, or not a lensval DCGAN checkpoint.
    """
    p = Path(path)
    where = f"DCGAN checkpoint {str(p)!r}"
    if not p.is_file():
        raise CheckpointError(f"{where} does not exist")
    try:
        data = p.read_bytes()
        # torch's zip reader does not check CRCs: silently flipped bytes in a weight
        # record would load as wrong weights, so verify every member first.
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bad = archive.testzip()
        if bad is not None:
            raise CheckpointError(f"{where} is corrupt (CRC mismatch in {bad!r}): "
                                  "re-download it or train a new one")
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as exc:  # pickle.UnpicklingError, RuntimeError, zipfile errors, EOF...
        kind = _why(exc)
        raise CheckpointError(
            f"{where} cannot be loaded safely ({kind}); it is corrupt, truncated or not a "
            "lensval DCGAN checkpoint -- re-download it or train a new one"
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{where} is not a lensval DCGAN checkpoint (format tag missing)")
    if blob.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{where} has format version {blob.get('format_version')!r}; this lensval reads "
            f"version {FORMAT_VERSION}: upgrade lensval"
        )
    try:
        meta = json.loads(blob["metadata"])
        get_preset(meta["preset"])
        meta["transform"]
    except Exception:
        raise CheckpointError(f"{where} has missing or malformed metadata") from None
    gen = blob.get("generator")
    if not isinstance(gen, dict) or not all(isinstance(v, torch.Tensor) for v in gen.values()):
        raise CheckpointError(f"{where} has no generator weights")
    blob["metadata"] = meta
    return blob


def _why(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()
    first = msg[0] if msg else ""
    if isinstance(exc, zipfile.BadZipFile) or "zip" in first.lower():
        return "not a complete torch zip archive"
    if "weights_only" in str(exc) or "Unsupported global" in str(exc):
        return "it contains pickled code or objects that are not plain tensors"
    return type(exc).__name__


def _load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"{where} does not match the architecture in its metadata "
            f"(missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise CheckpointError(
                f"{where}: tensor {k!r} has shape {tuple(state[k].shape)}, the preset needs "
                f"{tuple(v.shape)} (preset mismatch)"
            )
    converted = {k: state[k].to(expected[k].dtype) for k in expected}
    module.load_state_dict(converted)


def load_models(path: str | os.PathLike, *, preset: str | None = None,
                discriminator: bool = True
                ) -> tuple[DCGANGenerator, DCGANDiscriminator | None, dict[str, Any]]:
    """Build the modules described by a checkpoint and load its weights (float32, eval mode).

    Parameters
    ----------
    path : path-like
        Checkpoint file.
    preset : str, optional
        If given, the checkpoint's preset must have this name (else CheckpointError).
    discriminator : bool
        Also build the discriminator when the checkpoint has one.

    Returns
    -------
    generator, discriminator_or_None, blob
        ``blob`` is :func:`load_checkpoint`'s dict (``metadata`` decoded).
    """
    blob = load_checkpoint(path)
    where = f"DCGAN checkpoint {str(path)!r}"
    p = get_preset(blob["metadata"]["preset"])
    if preset is not None and p.name != preset:
        raise CheckpointError(
            f"{where} holds preset {p.name!r}, not the requested {preset!r}"
        )
    g = DCGANGenerator(p)
    _load_state(g, blob["generator"], where)
    g.eval()
    d = None
    if discriminator and isinstance(blob.get("discriminator"), dict):
        d = DCGANDiscriminator(p)
        _load_state(d, blob["discriminator"], where)
        d.eval()
    return g, d, blob
