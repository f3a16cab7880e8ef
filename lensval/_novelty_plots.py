"""Figures of the novelty checks (matplotlib, Agg canvas: no pyplot global state).

Every function writes one PNG atomically and returns its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from lensval.novelty import BirthdayResult

_DPI = 100


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    from lensval.io import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def _limits(maps: np.ndarray) -> tuple[float, float]:
    """A shared colour range: 0.5th to 99.5th percentile (kappa maps are skewed)."""
    lo, hi = np.percentile(np.asarray(maps, dtype=np.float64), [0.5, 99.5])
    return float(lo), float(hi if hi > lo else lo + 1e-12)


def nn_montage(path, top: np.ndarray, bottom: np.ndarray, top_labels: list[str],
               bottom_labels: list[str], *, title: str = "") -> Path:
    """Two rows of maps: ``top`` (generated) over ``bottom`` (their nearest training maps)."""
    n = top.shape[0]
    vmin, vmax = _limits(np.concatenate([top, bottom]))
    fig = _figure(1.8 * n + 0.6, 4.4)
    axes = fig.subplots(2, n, squeeze=False)
    for j in range(n):
        for row, (maps, labels) in enumerate(((top, top_labels), (bottom, bottom_labels))):
            ax = axes[row, j]
            im = ax.imshow(maps[j], vmin=vmin, vmax=vmax, cmap="viridis",
                           interpolation="nearest")
            ax.set_title(labels[j], fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("generated", fontsize=8)
    axes[1, 0].set_ylabel("nearest training", fontsize=8)
    fig.colorbar(im, ax=axes, fraction=0.02, pad=0.01, label="kappa")
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def distance_histogram(path, generated: np.ndarray, reference: np.ndarray | None,
                       rel_generated: np.ndarray, rel_reference: np.ndarray | None,
                       threshold: float | None, *, title: str = "") -> Path:
    """Histograms: nearest-neighbour distance ``d1`` and relative distance ``d1 / d2``."""
    fig = _figure(10.0, 4.0)
    axes = fig.subplots(1, 2)
    panels = ((generated, reference, "distance d1 to the nearest training map", None),
              (rel_generated, rel_reference, "relative distance d1 / d2", threshold))
    for ax, (gen, ref, label, thr) in zip(axes, panels, strict=True):
        data = [gen] if ref is None else [gen, ref]
        lo = min(float(np.min(d)) for d in data)
        hi = max(float(np.max(d)) for d in data)
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 41)
        ax.hist(gen, bins=bins, density=True, histtype="step", lw=1.5,
                label=f"generated (n = {gen.size})")
        if ref is not None:
            ax.hist(ref, bins=bins, density=True, histtype="step", lw=1.5,
                    label=f"held-out (n = {ref.size})")
        if thr is not None:
            ax.axvline(thr, color="k", ls="--", lw=1, label="threshold")
        ax.set_xlabel(label)
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def path_montage(path, maps: np.ndarray, distances: np.ndarray) -> Path:
    """Rows of maps along latent paths (paper Fig. 8), step distances in the titles."""
    n_paths, n_steps = maps.shape[:2]
    vmin, vmax = _limits(maps)
    fig = _figure(1.1 * n_steps + 0.4, 1.2 * n_paths + 0.6)
    axes = fig.subplots(n_paths, n_steps, squeeze=False)
    for i in range(n_paths):
        for j in range(n_steps):
            ax = axes[i, j]
            ax.imshow(maps[i, j], vmin=vmin, vmax=vmax, cmap="viridis",
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j > 0:
                ax.set_title(f"{distances[i, j - 1]:.3g}", fontsize=6)
    fig.suptitle("slerp paths in latent space (titles: distance to the previous map)",
                 fontsize=9)
    return _save(fig, path)


def birthday_plot(path, res: BirthdayResult) -> Path:
    """Closest-pair distance of each batch vs the duplicate threshold."""
    fig = _figure(6.0, 4.0)
    ax = fig.subplots()
    x = np.arange(res.n_batches)
    ax.plot(x, res.closest_distances, "o", ms=3, color="0.6")
    ax.plot(x, res.min_distances, "o", ms=5, label="closest pair")
    ax.axhline(res.threshold, color="k", ls="--", lw=1,
               label=f"threshold: closest of {res.n_real} real maps")
    ax.set_xlabel("batch")
    ax.set_ylabel(f"pair distance ({res.space} space)")
    ax.set_title(f"birthday test, s = {res.batch_size}: {res.verdict}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
