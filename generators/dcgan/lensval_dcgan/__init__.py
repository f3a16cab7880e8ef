"""The reference CosmoGAN DCGAN as a lensval generator plug-in.

Submodules (all but :mod:`lensval_dcgan.plugin` import torch):

- :mod:`~lensval_dcgan.model`: generator and discriminator (paper Tables 1-2), presets.
- :mod:`~lensval_dcgan.train`: the training loop (exact resume).
- :mod:`~lensval_dcgan.checkpoint`: safe checkpoint I/O (``torch.load(weights_only=True)``).
- :mod:`~lensval_dcgan.select`: the paper's chi-squared checkpoint selection.
- :mod:`~lensval_dcgan.transforms`: kappa <-> tanh-range data transforms (numpy only).
- :mod:`~lensval_dcgan.plugin`: :class:`DCGANGenerator`, registered as ``dcgan``.

Importing this package does not import torch.
"""

__all__ = ["DCGANGenerator"]


def __getattr__(name):
    if name == "DCGANGenerator":
        from .plugin import DCGANGenerator

        return DCGANGenerator
    raise AttributeError(f"module 'lensval_dcgan' has no attribute {name!r}")
