"""Data transforms between convergence kappa and the generator's tanh range (-1, 1).

``log`` (the default): ``s = 2 u / (u + c) - 1`` with ``u = kappa + shift``. It maps
``kappa in (-shift, inf)`` monotonically onto ``(-1, 1)``, compresses the long
high-kappa tail (a lognormal field's skewness) and puts the ``kappa = -shift`` floor of
the lognormal model at the tanh asymptote -1. With ``shift = 0.06, c = 0.1`` the
mean kappa (0) sits at ``s = 0.125`` and kappa = 0.1 at ``s = 0.52``. Its inverse is
``u = c (1 + s) / (1 - s)``.

``none``: ``s = kappa`` (what the paper did: raw kappa fed to a tanh output).

The transform's name and parameters are part of a checkpoint's metadata, so sampling
always applies the inverse of the transform the model was trained with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Transform", "TRANSFORMS", "get_transform"]

# Keep s strictly inside (-1, 1) before inverting: tanh saturates at +-1 in float32 and
# 1 - s = 0 would be an infinite kappa.
_S_CLIP = 1.0 - 1e-6


@dataclass(frozen=True)
class Transform:
    """A monotone map kappa <-> s in (-1, 1).

    Parameters
    ----------
    name : {"log", "none"}
        ``log``: ``s = 2u/(u + scale) - 1``, ``u = kappa + shift``; ``none``: identity.
    shift : float
        Added to kappa so that the smallest possible kappa maps to -1 (``log`` only).
    scale : float
        The value of ``u`` mapped to ``s = 0`` (``log`` only).
    """

    name: str = "log"
    shift: float = 0.06
    scale: float = 0.1

    def __post_init__(self) -> None:
        if self.name not in ("log", "none"):
            raise ValueError(f"unknown transform {self.name!r}; choose 'log' or 'none'")
        if self.name == "log" and not (self.shift > 0 and self.scale > 0):
            raise ValueError("transform 'log' needs shift > 0 and scale > 0")

    def forward(self, kappa: np.ndarray) -> np.ndarray:
        """kappa -> s (same shape, float32). Values below ``-shift`` map below -1 (clipped)."""
        k = np.asarray(kappa, dtype=np.float64)
        if self.name == "none":
            return k.astype(np.float32)
        u = np.maximum(k + self.shift, 0.0)
        return (2.0 * u / (u + self.scale) - 1.0).astype(np.float32)

    def inverse(self, s: np.ndarray) -> np.ndarray:
        """s -> kappa (same shape, float32)."""
        s = np.asarray(s, dtype=np.float64)
        if self.name == "none":
            return s.astype(np.float32)
        s = np.clip(s, -1.0, _S_CLIP)
        u = self.scale * (1.0 + s) / (1.0 - s)
        return (u - self.shift).astype(np.float32)

    def inverse_torch(self, s):
        """:meth:`inverse` on a torch tensor, in float32.

        float32 suffices: ``s`` is a float32 tanh output and ``1 - s`` is exact for
        ``s >= 0.5`` (Sterbenz), so the result carries ~1e-7 relative error, far below
        the information in ``s``; it runs at the network's speed.
        """
        s = s.float()
        if self.name == "none":
            return s
        s = s.clamp(-1.0, _S_CLIP)
        return self.scale * (1.0 + s) / (1.0 - s) - self.shift

    def to_dict(self) -> dict:
        """JSON-able description (stored in checkpoints)."""
        return asdict(self)


TRANSFORMS: dict[str, Transform] = {"log": Transform("log"), "none": Transform("none")}


def get_transform(spec: str | dict | Transform) -> Transform:
    """A :class:`Transform` from a name, a dict (checkpoint metadata) or a Transform."""
    if isinstance(spec, Transform):
        return spec
    if isinstance(spec, dict):
        return Transform(**{k: spec[k] for k in ("name", "shift", "scale") if k in spec})
    try:
        return TRANSFORMS[spec]
    except KeyError:
        raise ValueError(f"unknown transform {spec!r}; choose from {', '.join(TRANSFORMS)}")\
            from None
