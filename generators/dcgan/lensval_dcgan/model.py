"""The CosmoGAN DCGAN (Mustafa et al. 2019, Sect. 2.3, Tables 1-2) as torch modules.

Generator (Table 1, ``paper`` preset)::

    z (64) -> Linear(64, 512*16*16, bias) -> BN -> ReLU            8,519,680 + 1,024
           -> TConv 5x5/2 512->256 (no bias) -> BN -> ReLU          3,276,800 +   512
           -> TConv 5x5/2 256->128 (no bias) -> BN -> ReLU            819,200 +   256
           -> TConv 5x5/2 128->64  (no bias) -> BN -> ReLU            204,800 +   128
           -> TConv 5x5/2  64->1   (bias)    -> tanh                    1,601
                                                           total  12,824,001

Table 1 prints a total of 12.3M, which disagrees with its own rows (they sum to
12.82M); the rows are matched exactly here.

Discriminator (Table 2)::

    x (1x256x256) -> Conv 5x5/2 1->64 (bias) -> LReLU(0.2)          1,664
                  -> Conv 5x5/2 64->128 (bias) -> BN -> LReLU      204,928 +   256
                  -> Conv 5x5/2 128->256 (bias) -> BN -> LReLU     819,456 +   512
                  -> Conv 5x5/2 256->512 (bias) -> BN -> LReLU   3,277,312 + 1,024
                  -> flatten -> Linear(512*16*16, 1)               131,073
                                                           total   4,436,225

Every convolution of the discriminator needs its bias to reach Table 2's total of
4,436,225 (without the biases of convs 2-4 it would be 4,435,329). The last layer
returns a logit; the sigmoid lives in the loss (``BCEWithLogits``) for stability.

Presets (:data:`PRESETS`) keep the topology and scale the number of filters: ``paper``
is Table 1/2, ``cpu`` is 1/8 of the width (trains at about 1 s per step on 2 CPU
cores), ``tiny`` is for tests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Preset", "PRESETS", "get_preset", "DCGANGenerator", "DCGANDiscriminator",
           "build_models", "init_weights", "count_parameters", "layer_parameter_counts"]


@dataclass(frozen=True)
class Preset:
    """Architecture of one DCGAN size.

    Parameters
    ----------
    name : str
        Registry name.
    latent_dim : int
        Dimension of z.
    g_filters : tuple of int
        Channels of the generator's dense output and of the first three transposed
        convolutions (the last one always has 1 channel), e.g. ``(512, 256, 128, 64)``.
    d_filters : tuple of int
        Channels of the discriminator's four convolutions, e.g. ``(64, 128, 256, 512)``.
    map_size : int
        Side of the generated map in pixels (the dense layer outputs ``map_size / 16``).
    kernel_size : int
        Side of every convolution kernel.
    """

    name: str
    latent_dim: int = 64
    g_filters: tuple[int, int, int, int] = (512, 256, 128, 64)
    d_filters: tuple[int, int, int, int] = (64, 128, 256, 512)
    map_size: int = 256
    kernel_size: int = 5

    def __post_init__(self) -> None:
        if self.map_size % 16:
            raise ValueError(f"map_size must be a multiple of 16, got {self.map_size}")
        if len(self.g_filters) != 4 or len(self.d_filters) != 4:
            raise ValueError("g_filters and d_filters need four entries each")

    def to_dict(self) -> dict:
        """JSON-able description (stored in checkpoints)."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Preset:
        """Inverse of :meth:`to_dict`."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in fields}
        return cls(**kw)


PRESETS: dict[str, Preset] = {
    "paper": Preset("paper"),
    "cpu": Preset("cpu", g_filters=(64, 32, 16, 8), d_filters=(8, 16, 32, 64)),
    "tiny": Preset("tiny", g_filters=(16, 8, 8, 4), d_filters=(4, 8, 8, 16), map_size=64),
}


def get_preset(preset: str | Preset | dict) -> Preset:
    """A :class:`Preset` from a name, a dict (checkpoint metadata) or a Preset."""
    if isinstance(preset, Preset):
        return preset
    if isinstance(preset, dict):
        return Preset.from_dict(preset)
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(
            f"unknown DCGAN preset {preset!r}; choose from {', '.join(PRESETS)}"
        ) from None


def _tconv(cin: int, cout: int, k: int, bias: bool) -> nn.ConvTranspose2d:
    # padding=k//2 with output_padding=1 doubles the side exactly (TensorFlow's "SAME").
    return nn.ConvTranspose2d(cin, cout, k, stride=2, padding=k // 2, output_padding=1,
                              bias=bias)


class DCGANGenerator(nn.Module):
    """z ``(n, latent_dim)`` -> maps ``(n, 1, M, M)`` in (-1, 1) (tanh output)."""

    def __init__(self, preset: Preset) -> None:
        super().__init__()
        self.preset = preset
        f, k = preset.g_filters, preset.kernel_size
        self.base = preset.map_size // 16
        self.dense = nn.Linear(preset.latent_dim, f[0] * self.base * self.base, bias=True)
        self.bn0 = nn.BatchNorm2d(f[0])
        self.tconv1 = _tconv(f[0], f[1], k, bias=False)
        self.bn1 = nn.BatchNorm2d(f[1])
        self.tconv2 = _tconv(f[1], f[2], k, bias=False)
        self.bn2 = nn.BatchNorm2d(f[2])
        self.tconv3 = _tconv(f[2], f[3], k, bias=False)
        self.bn3 = nn.BatchNorm2d(f[3])
        self.tconv4 = _tconv(f[3], 1, k, bias=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(z).view(z.shape[0], -1, self.base, self.base)
        x = torch.relu(self.bn0(x))
        x = torch.relu(self.bn1(self.tconv1(x)))
        x = torch.relu(self.bn2(self.tconv2(x)))
        x = torch.relu(self.bn3(self.tconv3(x)))
        return torch.tanh(self.tconv4(x))


class DCGANDiscriminator(nn.Module):
    """Maps ``(n, 1, M, M)`` -> logits ``(n,)``; :meth:`features` gives the last conv layer."""

    def __init__(self, preset: Preset) -> None:
        super().__init__()
        self.preset = preset
        f, k = preset.d_filters, preset.kernel_size
        pad = k // 2
        self.conv1 = nn.Conv2d(1, f[0], k, stride=2, padding=pad, bias=True)
        self.conv2 = nn.Conv2d(f[0], f[1], k, stride=2, padding=pad, bias=True)
        self.bn2 = nn.BatchNorm2d(f[1])
        self.conv3 = nn.Conv2d(f[1], f[2], k, stride=2, padding=pad, bias=True)
        self.bn3 = nn.BatchNorm2d(f[2])
        self.conv4 = nn.Conv2d(f[2], f[3], k, stride=2, padding=pad, bias=True)
        self.bn4 = nn.BatchNorm2d(f[3])
        side = preset.map_size // 16
        self.linear = nn.Linear(f[3] * side * side, 1, bias=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of the last conv layer (after BN + LeakyReLU): ``(n, C, M/16, M/16)``."""
        x = nn.functional.leaky_relu(self.conv1(x), 0.2)
        x = nn.functional.leaky_relu(self.bn2(self.conv2(x)), 0.2)
        x = nn.functional.leaky_relu(self.bn3(self.conv3(x)), 0.2)
        return nn.functional.leaky_relu(self.bn4(self.conv4(x)), 0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.flatten(self.features(x), 1)).squeeze(1)


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv/linear weights N(0, 0.02), BN gamma N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build_models(preset: str | Preset, *, seed: int | None = None
                 ) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """A freshly initialised generator and discriminator (seeded if ``seed`` is given)."""
    p = get_preset(preset)
    if seed is not None:
        torch.manual_seed(seed)
    g, d = DCGANGenerator(p), DCGANDiscriminator(p)
    init_weights(g)
    init_weights(d)
    return g, d


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def layer_parameter_counts(module: nn.Module) -> list[tuple[str, int]]:
    """``[(child name, trainable parameters)]`` in definition order (Table 1/2 rows)."""
    return [(name, count_parameters(child)) for name, child in module.named_children()]
