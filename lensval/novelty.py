"""Novelty and memorisation checks (paper Sect. 3.2).

Three checks that a generator makes new maps rather than copies, and that its latent
space maps smoothly onto maps:

* :func:`nearest_neighbours` -- for each generated map, the nearest training map in
  pixel space, power-spectrum space (log P over the nonzero-mode bins) or a learned
  feature space, compared with the same distances of held-out real maps: a calibrated
  memorisation test (paper Fig. 7).
* :func:`birthday_test` -- the birthday-paradox estimate of the support size
  (Arora & Zhang 2017): near-duplicate pairs inside batches of ``s`` generated maps.
* :func:`latent_path` / :func:`slerp` -- maps along great-circle paths in the latent
  space and the step-to-step distances along them (paper Fig. 8).

:func:`check_novelty` runs the first and third for a generator (the ``lensval novelty``
command). Distances are exact (the same numbers and indices as a brute-force NumPy
search, see :mod:`lensval._pairwise`); the rules behind each verdict are in the
docstrings and in ``docs/novelty.md``.

References
----------
.. [1] Mustafa, M. et al. (2019), "CosmoGAN: creating high-fidelity weak lensing
   convergence maps using Generative Adversarial Networks", Comput. Astrophys.
   Cosmol. 6, 1, Sect. 3.2.
.. [2] Arora, S. & Zhang, Y. (2017), "Do GANs actually learn the distribution? An
   empirical study", arXiv:1706.08224.
.. [3] White, T. (2016), "Sampling Generative Networks", arXiv:1609.04468 (slerp).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from lensval import __version__, _defaults
from lensval import _pairwise as pw
from lensval.errors import ConfigMismatchError, InputError
from lensval.plugins import Generator

__all__ = [
    "SPACES",
    "nearest_neighbours",
    "NearestNeighbourResult",
    "birthday_test",
    "BirthdayResult",
    "slerp",
    "latent_path",
    "LatentPathResult",
    "check_novelty",
    "NoveltyResult",
]

#: Spaces in which distances are measured.
SPACES = ("pixel", "power", "features")
#: Quantile of the held-out-to-training distances that defines "suspiciously close".
QUANTILE = 0.01
#: Level of the memorisation and birthday tests.
ALPHA = 0.01
#: Default training-set size when the simulator's train split stands in for it.
N_TRAIN = 8000
#: Default number of held-out (validation) maps for the memorisation verdict.
N_REFERENCE = 1000
#: Default number of generated maps for ``lensval novelty``.
N_NOVELTY = 1000
#: Default birthday batch size and number of batches.
BATCH_SIZE = 1024
N_BATCHES = 10
#: A latent path "jumps" when its largest step exceeds this many median steps.
JUMP_RATIO = 5.0
#: Pixel-space buffers above this many bytes go to a temporary memory-mapped file.
MEMORY_LIMIT_BYTES = 2 * 2**30
#: Seed of the simulated training/reference/real sets used when none is given.
SIMULATOR_SEED = 0


# --------------------------------------------------------------------------- helpers
def _resolve_rng(rng) -> tuple[np.random.Generator, int | None]:
    if isinstance(rng, np.random.Generator):
        return rng, None
    if rng is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    else:
        try:
            seed = int(rng)
        except (TypeError, ValueError):
            raise InputError(f"rng must be an int seed or a numpy Generator, got {rng!r}") \
                from None
    return np.random.default_rng(seed), seed


def _check_space(space: str) -> str:
    if space not in SPACES:
        raise InputError(f"unknown space {space!r}: choose one of {', '.join(SPACES)}")
    return space


def _positive_int(value, what: str, minimum: int = 1) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be an integer, got {value!r}") from None
    if v != value or v < minimum:
        raise InputError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return v


def _tolist(v):
    if isinstance(v, np.ndarray):
        return [_tolist(x) for x in v] if v.dtype == object else _tolist(v.tolist())
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return _tolist(v.item())
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no inf/nan: "inf", "nan"
    if isinstance(v, dict):
        return {k: _tolist(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_tolist(x) for x in v]
    return v


class _Maps:
    """Maps as an ``(n, M, M)`` array-like plus their geometry (``angle_deg`` may be None)."""

    def __init__(self, obj: Any, angle_deg: float | None, name: str) -> None:
        from lensval.io import as_maps

        plain = not isinstance(obj, (xr.DataArray, xr.Dataset, str, os.PathLike))
        if plain and angle_deg is None:
            # geometry unknown: fine for pixel/feature distances, checked for power
            da = as_maps(obj, 1.0, check=False, name=name)
            self.angle_deg = None
        else:
            da = as_maps(obj, angle_deg, check=False, name=name)
            self.angle_deg = float(da.attrs["angle_deg"])
        self.da = da
        self.name = name
        self.n = int(da.sizes["sample"])
        self.map_size = int(da.sizes["x"])

    def chunks(self, chunk_size: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, block)`` in the stored dtype, NaN/inf checked."""
        from lensval.io import iter_chunks

        yield from iter_chunks(self.da, chunk_size, dtype=None, name=self.name)

    def in_memory(self) -> np.ndarray | None:
        """The maps as an in-memory ndarray (no copy), or None if they are lazy."""
        from lensval.io import _is_lazy

        return None if _is_lazy(self.da) else self.da.variable._data


def _check_geometry(ref: _Maps, other: _Maps, space: str) -> float | None:
    """The common ``angle_deg`` (None if unknown); raise when the geometries differ."""
    if other.map_size != ref.map_size:
        raise ConfigMismatchError(
            f"{other.name} maps are {other.map_size}^2 pixels but {ref.name} maps are "
            f"{ref.map_size}^2: compare maps of the same size")
    angles = {a for a in (ref.angle_deg, other.angle_deg) if a is not None}
    if len(angles) == 2 and not math.isclose(*angles, rel_tol=1e-6):
        raise ConfigMismatchError(
            f"{other.name} maps are {other.angle_deg} deg wide but {ref.name} maps are "
            f"{ref.angle_deg} deg: compare maps of the same geometry")
    angle = angles.pop() if angles else None
    if space == "power" and angle is None:
        raise InputError("power-spectrum space needs the map size in degrees: pass "
                         "angle_deg=... (the CosmoGAN maps are 0.866 deg)")
    return angle


def _buffer(shape: tuple[int, int], dtype, stack: contextlib.ExitStack) -> np.ndarray:
    """An empty array, memory-mapped in a temporary folder when it is large."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if nbytes <= MEMORY_LIMIT_BYTES:
        return np.empty(shape, dtype=dtype)
    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="lensval-novelty-"))
    return np.lib.format.open_memmap(os.path.join(tmp, "rows.npy"), mode="w+",
                                     dtype=dtype, shape=shape)


class _Embedder:
    """Turns blocks of maps into rows of one space (pixels, log power, features)."""

    def __init__(self, space: str, *, angle_deg: float | None = None,
                 ell_edges: np.ndarray | None = None, generator: Generator | None = None) -> None:
        self.space = _check_space(space)
        self.angle_deg = angle_deg
        self.ell_edges = ell_edges
        self.generator = generator
        self.keep: np.ndarray | None = None  # power bins with modes
        self.ell: np.ndarray | None = None
        if space == "features" and generator is None:
            raise InputError("space='features' needs the generator whose features(maps) "
                             "define the space: pass generator=...")

    def __call__(self, block: np.ndarray) -> np.ndarray:
        n = block.shape[0]
        if self.space == "pixel":
            return block.reshape(n, -1)
        if self.space == "power":
            return self._log_power(block)
        return self._features(block)

    def _log_power(self, block: np.ndarray) -> np.ndarray:
        from lensval.stats import power_spectrum

        ps = power_spectrum(block, angle_deg=self.angle_deg, ell_edges=self.ell_edges)
        if self.keep is None:
            self.keep = np.asarray(ps.n_modes) > 0
            self.ell = np.asarray(ps.ell)[self.keep]
            if not self.keep.any():
                raise InputError("no power-spectrum bin has Fourier modes for these maps: "
                                 "pass ell_edges that cover the maps' multipoles")
        power = np.asarray(ps.power, dtype=np.float64)[:, self.keep]
        # P >= 0 always; a zero bin (a constant map) gets the smallest normal float
        # instead of log(0) = -inf, so distances stay finite
        return np.log(np.maximum(power, np.finfo(np.float64).tiny))

    def _features(self, block: np.ndarray) -> np.ndarray:
        gen = self.generator
        out = []
        bs = max(1, int(getattr(gen, "batch_size", 64)))
        for i in range(0, block.shape[0], bs):
            f = gen.features(block[i:i + bs])
            if f is None:
                raise InputError(
                    f"generator {gen.name or type(gen).__name__} has no feature space "
                    "(features() returned None): use space='pixel' or 'power'")
            f = np.asarray(f)
            out.append(f.reshape(f.shape[0], -1))
        feats = np.concatenate(out)
        if not np.all(np.isfinite(feats)):
            raise InputError("the generator's features contain NaN/inf")
        return feats

    def dtype_for(self, block_dtype) -> np.dtype:
        if self.space == "pixel":
            return np.dtype(block_dtype)
        if self.space == "power":
            return np.dtype(np.float64)
        return np.dtype(np.result_type(block_dtype, np.float32))

    def rows(self, blocks: Iterable[tuple[int, np.ndarray]], n: int,
             stack: contextlib.ExitStack, progress=None) -> pw.Rows:
        """Embed ``n`` maps given as ``(start, block)`` pairs into a :class:`~pw.Rows`."""
        out = None
        for start, block in blocks:
            rows = self(block)
            if out is None:
                out = _buffer((n, rows.shape[1]), self.dtype_for(rows.dtype), stack)
            out[start:start + rows.shape[0]] = rows
            if progress is not None:
                progress(block.shape[0])
        return pw.Rows.build(out)

    def rows_of(self, maps: _Maps, chunk_size: int, stack: contextlib.ExitStack,
                progress=None) -> pw.Rows:
        """Rows of stored maps; pixel rows of in-memory maps are a view, not a copy."""
        arr = maps.in_memory()
        if self.space == "pixel" and arr is not None:
            for _ in maps.chunks(chunk_size):  # NaN/inf check only
                pass
            if progress is not None:
                progress(maps.n)
            return pw.Rows.build(arr.reshape(maps.n, -1))
        return self.rows(maps.chunks(chunk_size), maps.n, stack, progress)


@contextlib.contextmanager
def _bar(total: int, desc: str, progress: bool | None, unit: str = "map"):
    from lensval._progress import progress_bar

    with progress_bar(total, desc, unit=unit, progress=progress) as bar:
        yield bar.update


# --------------------------------------------------------------------------- nearest
@dataclasses.dataclass
class NearestNeighbourResult:
    """Outcome of :func:`nearest_neighbours`.

    Attributes
    ----------
    space : str
        ``"pixel"``, ``"power"`` or ``"features"``.
    indices : ndarray of int64, shape (n_generated,)
        Index of each generated map's nearest training map.
    distances : ndarray of float64, shape (n_generated,)
        Its Euclidean distance ``d1`` (pixel: kappa units; power: in ln P).
    relative_distances : ndarray of float64, shape (n_generated,)
        ``d1 / d2``, nearest over second-nearest training distance (0 for an exact
        copy): the statistic of the verdict.
    reference_indices, reference_distances : ndarray, shape (n_reference,), or None
        The same for the held-out reference maps.
    reference_relative_distances : ndarray, shape (n_reference,), or None
    quantile : float
        ``q``: the threshold is the ``k = ceil(q n_reference)``-th smallest reference
        relative distance.
    threshold : float or None
        That relative distance.
    n_below : int or None
        Generated maps with a relative distance strictly below the threshold.
    expected_fraction : float or None
        ``k / (n_reference + 1)``: the fraction expected when the generated maps are
        independent of the training set.
    pvalue : float or None
        One-sided p-value of ``n_below`` under that hypothesis (beta-binomial, exact).
    median_ratio : float or None
        Median generated ``d1`` over median reference ``d1`` (descriptive; << 1 means
        closer to the training set than real maps are).
    alpha : float
        Level of the test.
    verdict : str
        ``"memorising"``, ``"novel"``, or ``"no reference"`` (no verdict possible).
    rule : str
        The rule that produced the verdict.
    n_generated, n_training, n_reference : int
    meta : dict
        Geometry, kept power-spectrum bins, exact re-checks, lensval version.
    """

    space: str
    indices: np.ndarray
    distances: np.ndarray
    relative_distances: np.ndarray
    reference_indices: np.ndarray | None
    reference_distances: np.ndarray | None
    reference_relative_distances: np.ndarray | None
    quantile: float
    threshold: float | None
    n_below: int | None
    expected_fraction: float | None
    pvalue: float | None
    median_ratio: float | None
    alpha: float
    verdict: str
    rule: str
    n_generated: int
    n_training: int
    n_reference: int
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def memorising(self) -> bool | None:
        """True/False by the rule, None without reference maps."""
        return None if self.verdict == "no reference" else self.verdict == "memorising"

    @property
    def fraction_below(self) -> float | None:
        return None if self.n_below is None else self.n_below / self.n_generated

    def table(self) -> str:
        """Readable summary."""
        q = np.quantile(self.distances, [0.0, 0.01, 0.5])
        lines = [f"nearest neighbours in {self.space} space: {self.n_generated} generated "
                 f"vs {self.n_training} training maps",
                 f"  generated -> training distance: min {q[0]:.4g}, 1% {q[1]:.4g}, "
                 f"median {q[2]:.4g}"]
        if self.reference_distances is not None:
            r = np.quantile(self.reference_distances, [0.0, 0.01, 0.5])
            lines += [
                f"  reference -> training distance: min {r[0]:.4g}, 1% {r[1]:.4g}, "
                f"median {r[2]:.4g}  ({self.n_reference} held-out maps)",
                f"  d1/d2 below threshold {self.threshold:.4g}: {self.n_below} "
                f"({100 * self.fraction_below:.2f}%, expected "
                f"{100 * self.expected_fraction:.2f}%), p = {self.pvalue:.3g}; "
                f"median ratio {self.median_ratio:.3f}",
            ]
        lines.append(f"  verdict: {self.verdict.upper()}  ({self.rule})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (per-map arrays included as lists)."""
        return _tolist({
            "space": self.space, "verdict": self.verdict, "memorising": self.memorising,
            "rule": self.rule, "alpha": self.alpha, "quantile": self.quantile,
            "threshold": self.threshold, "n_below": self.n_below,
            "fraction_below": self.fraction_below,
            "expected_fraction": self.expected_fraction, "pvalue": self.pvalue,
            "median_ratio": self.median_ratio, "n_generated": self.n_generated,
            "n_training": self.n_training, "n_reference": self.n_reference,
            "indices": self.indices, "distances": self.distances,
            "relative_distances": self.relative_distances,
            "reference_indices": self.reference_indices,
            "reference_distances": self.reference_distances,
            "reference_relative_distances": self.reference_relative_distances,
            "meta": self.meta,
        })

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_dataset(self) -> xr.Dataset:
        """Per-map indices and distances as a Dataset; scalars as attrs."""
        data = {"nn_index": ("generated", self.indices),
                "nn_distance": ("generated", self.distances),
                "nn_relative_distance": ("generated", self.relative_distances)}
        if self.reference_distances is not None:
            data["reference_nn_index"] = ("reference", self.reference_indices)
            data["reference_nn_distance"] = ("reference", self.reference_distances)
            data["reference_nn_relative_distance"] = ("reference",
                                                      self.reference_relative_distances)
        attrs = {"space": self.space, "verdict": self.verdict, "rule": self.rule,
                 "alpha": self.alpha, "quantile": self.quantile,
                 "n_training": self.n_training, "lensval_version": __version__}
        for key in ("threshold", "n_below", "expected_fraction", "pvalue", "median_ratio"):
            value = getattr(self, key)
            if value is not None:
                attrs[key] = value
        return xr.Dataset(data, attrs=attrs)

    def to_netcdf(self, path) -> Path:
        from lensval.io import save_dataset

        return save_dataset(self.to_dataset(), path)

    def plot(self, path, generated, training, *, n_show: int = 8, which: str = "closest",
             angle_deg: float | None = None) -> Path:
        """Montage PNG: generated maps (top) above their nearest training maps.

        ``which="closest"`` shows the ``n_show`` generated maps nearest to the training
        set (the suspects); ``"random"`` an evenly spaced selection (paper Fig. 7).
        """
        from lensval._novelty_plots import nn_montage

        gen = _Maps(generated, angle_deg, "generated")
        train = _Maps(training, angle_deg, "training")
        n_show = min(n_show, gen.n)
        if which == "closest":
            pick = np.argsort(self.distances, kind="stable")[:n_show]
        else:
            pick = np.linspace(0, gen.n - 1, n_show).astype(int)
        top = np.asarray(gen.da.isel(sample=pick).values)
        bottom = np.asarray(train.da.isel(sample=self.indices[pick]).values)
        labels = [f"gen {i}\nd = {self.distances[i]:.3g}" for i in pick]
        nn_labels = [f"train {self.indices[i]}" for i in pick]
        return nn_montage(path, top, bottom, labels, nn_labels,
                          title=f"nearest training maps ({self.space} space)")

    def plot_distances(self, path) -> Path:
        """Histogram PNG of generated vs reference nearest-neighbour distances."""
        from lensval._novelty_plots import distance_histogram

        return distance_histogram(path, self.distances, self.reference_distances,
                                  self.relative_distances,
                                  self.reference_relative_distances, self.threshold,
                                  title=f"{self.space} space: verdict {self.verdict}")


def _relative(d: np.ndarray) -> np.ndarray:
    """``d1 / d2`` per row of ``(n, 2)`` distances; 0 for an exact copy (``d1 = 0``)."""
    d1, d2 = d[:, 0], d[:, 1]
    return np.divide(d1, d2, out=np.zeros_like(d1), where=d2 > 0)


def _verdict_nn(gen_d: np.ndarray, ref_d: np.ndarray | None, quantile: float,
                alpha: float, med_gen: float, med_ref: float) -> dict[str, Any]:
    """The memorisation rule (see :func:`nearest_neighbours`, Notes).

    ``gen_d``, ``ref_d``: the statistic (relative distances) of generated and reference
    maps; ``med_gen``, ``med_ref``: median plain distances for the descriptive ratio.
    """
    from scipy.stats import betabinom

    if ref_d is None:
        return dict(threshold=None, n_below=None, expected_fraction=None, pvalue=None,
                    median_ratio=None, verdict="no reference",
                    rule="no held-out reference maps: no verdict (pass reference=...)")
    n_ref, n_gen = ref_d.size, gen_d.size
    k = max(1, math.ceil(quantile * n_ref))
    threshold = float(np.partition(ref_d, k - 1)[k - 1])
    n_below = int(np.count_nonzero(gen_d < threshold))
    # P(X >= n_below) for X ~ BetaBinomial(n_gen, k, n_ref + 1 - k)
    pvalue = float(betabinom.sf(n_below - 1, n_gen, k, n_ref + 1 - k))
    ratio = float(med_gen / med_ref) if med_ref > 0 else float("inf")
    rule = (f"memorising if P(X >= n_below) < {alpha:g}, X ~ BetaBinomial(n_gen, k, "
            f"n_ref + 1 - k): n_below = generated maps whose nearest/second-nearest training "
            f"distance is below the k = ceil({quantile:g} n_ref) = {k}-th smallest of "
            f"{n_ref} held-out maps'")
    return dict(threshold=threshold, n_below=n_below, expected_fraction=k / (n_ref + 1),
                pvalue=pvalue, median_ratio=ratio,
                verdict="memorising" if pvalue < alpha else "novel", rule=rule)


def nearest_neighbours(generated, training, space: str = "pixel", *,
                       generator: Generator | str | None = None, reference=None,
                       chunk_size: int = _defaults.CHUNK_SIZE,
                       angle_deg: float | None = None, ell_edges=None,
                       quantile: float = QUANTILE, alpha: float = ALPHA,
                       progress: bool | None = None) -> NearestNeighbourResult:
    """Nearest training map of every generated map, and a memorisation verdict.

    Parameters
    ----------
    generated : array_like, shape (n, M, M), xarray.DataArray or path
        Generated maps.
    training : array_like, shape (n_train, M, M), xarray.DataArray or path
        The training set.
    space : {"pixel", "power", "features"}
        ``"pixel"``: Euclidean distance between maps (kappa units); ``"power"``:
        Euclidean distance between ``ln P(ell)`` over the bins that hold Fourier modes
        (:func:`lensval.power_spectrum`, needs ``angle_deg``); ``"features"``: between
        ``generator.features(maps)`` (e.g. the DCGAN discriminator's last conv layer).
    generator : Generator or str, optional
        Needed for ``space="features"``; supplies ``angle_deg`` if the maps do not.
    reference : array_like, DataArray or path, optional
        Held-out real maps (never trained on) from the training distribution. Without
        them there is no verdict.
    chunk_size : int
        Generated maps per block (bounds memory; does not change the results).
    angle_deg : float, optional
        Side of one map in degrees, for plain arrays.
    ell_edges : array_like, optional
        Power-spectrum bin edges (default :func:`lensval._defaults.default_ell_edges`).
    quantile, alpha : float
        The verdict's threshold quantile ``q`` and level (see Notes).
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).

    Returns
    -------
    NearestNeighbourResult
        Indices and distances (exact: equal to a brute-force search, ties to the
        smallest index), the reference distances and the verdict.

    Notes
    -----
    Rule. For every map let ``d1`` and ``d2`` be its distances to the nearest and
    second-nearest training maps, and ``r = d1 / d2`` its relative distance (0 for an
    exact copy). A copy of a training map (plus small changes) has ``r << 1``; a new
    map has ``r`` near 1. Let ``t`` be the ``k``-th smallest ``r`` of the ``n_ref``
    held-out maps, ``k = ceil(q n_ref)``, and ``n_below`` the number of generated maps
    with ``r < t``. If the generated maps are drawn independently of the training set
    from the same distribution as the held-out maps, generated and held-out ``r`` are
    exchangeable, so one generated ``r`` falls below ``t`` with probability ``U ~
    Beta(k, n_ref + 1 - k)`` and ``n_below ~ BetaBinomial(n_gen, k, n_ref + 1 - k)``
    exactly (expected fraction ``k / (n_ref + 1)``, about ``q``). The verdict is
    ``"memorising"`` when ``P(X >= n_below) < alpha``.

    Why ``d1 / d2`` and not ``d1``: in pixel space ``d1`` is dominated by the map's
    own amplitude (a low-variance map is close to everything), so ``d1`` also flags
    generators whose maps are merely too smooth, and it is sensitive to clustered
    samples (the simulator's tiles of one parent map share their amplitude), which
    made the plain-``d1`` rule reject too often for independent simulator maps. The
    ratio cancels the amplitude. The plain distances are reported too
    (``distances``, ``median_ratio``) as in the paper's Fig. 7.

    Search. Blocked GEMM with a rigorous float error bound and an exact float64
    re-check of the candidates (:mod:`lensval._pairwise`). Pixel space costs
    ``2 n_gen n_train M^2`` flops (6400 x 8000 maps of 256^2: 6.7 TFLOP, minutes on 2
    cores) and holds both sets in memory (as given: 4 M^2 bytes a map in float32).

    Examples
    --------
    >>> import lensval as lv
    >>> train = lv.simulate(64, split="train", seed=0)
    >>> res = lv.nearest_neighbours(lv.simulate(16, split="auxiliary"), train,
    ...                             reference=lv.simulate(16, split="validation"))
    >>> res.verdict
    'novel'
    """
    _check_space(space)
    chunk_size = _positive_int(chunk_size, "chunk_size")
    if not 0 < quantile < 1:
        raise InputError(f"quantile must be in (0, 1), got {quantile}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    gen_obj = None
    if generator is not None:
        from lensval.plugins import get_generator

        gen_obj = get_generator(generator)
        if angle_deg is None and not isinstance(generated, (xr.DataArray, xr.Dataset)):
            angle_deg = gen_obj.angle_deg
    g = _Maps(generated, angle_deg, "generated")
    t = _Maps(training, angle_deg if angle_deg is not None else g.angle_deg, "training")
    angle = _check_geometry(t, g, space)
    r = None
    if reference is not None:
        r = _Maps(reference, angle_deg if angle_deg is not None else angle, "reference")
        angle = _check_geometry(t, r, space) or angle
    if t.n < 2:
        raise InputError("the training set needs at least 2 maps (the verdict uses the "
                         "nearest and second-nearest training maps)")
    emb = _Embedder(space, angle_deg=angle, ell_edges=ell_edges, generator=gen_obj)
    total = t.n + 2 * g.n + (2 * r.n if r is not None else 0)
    with contextlib.ExitStack() as stack, \
            _bar(total, f"nearest neighbours ({space})", progress) as update:
        train_rows = emb.rows_of(t, chunk_size, stack, update)
        gen_rows = emb.rows_of(g, chunk_size, stack, update)
        idx, d2, checked = pw.nearest(gen_rows, train_rows, k=2, block_a=chunk_size,
                                      progress=update)
        ref_idx = ref_d = None
        if r is not None:
            ref_rows = emb.rows_of(r, chunk_size, stack, update)
            ref_idx, ref_d2, checked_r = pw.nearest(ref_rows, train_rows, k=2,
                                                    block_a=chunk_size, progress=update)
            ref_d = np.sqrt(ref_d2)
            checked += checked_r
    dist = np.sqrt(d2)
    rel = _relative(dist)
    ref_rel = None if ref_d is None else _relative(ref_d)
    meta = {"angle_deg": angle, "map_size": t.map_size, "dimension": train_rows.d,
            "gemm_dtype": str(train_rows.gemm_dtype), "exact_rechecks": checked,
            "lensval_version": __version__}
    if emb.ell is not None:
        meta["ell"] = emb.ell
    return NearestNeighbourResult(
        space=space, indices=idx[:, 0], distances=dist[:, 0], relative_distances=rel,
        reference_indices=None if ref_d is None else ref_idx[:, 0],
        reference_distances=None if ref_d is None else ref_d[:, 0],
        reference_relative_distances=ref_rel, quantile=quantile, alpha=alpha,
        n_generated=g.n, n_training=t.n, n_reference=0 if r is None else r.n, meta=meta,
        **_verdict_nn(rel, ref_rel, quantile, alpha, float(np.median(dist[:, 0])),
                      None if ref_d is None else float(np.median(ref_d[:, 0]))))


# --------------------------------------------------------------------------- birthday
@dataclasses.dataclass
class BirthdayResult:
    """Outcome of :func:`birthday_test`.

    Attributes
    ----------
    space : str
    batch_size : int
        ``s``, maps per batch.
    n_batches : int
        ``B``.
    n_real : int
        ``m``, real maps that set the duplicate threshold.
    threshold : float
        The smallest pairwise distance among the ``m`` real maps: generated pairs
        closer than this are duplicates.
    min_distances : ndarray, shape (B,)
        Smallest pairwise distance in each batch.
    n_duplicates : ndarray of int64, shape (B,)
        Duplicate pairs in each batch.
    closest_pairs : ndarray of int64, shape (B, n_pairs, 2)
        The closest pairs of each batch (indices within the batch, ``i < j``).
    closest_distances : ndarray, shape (B, n_pairs)
    collision_fraction : float
        Fraction of batches with at least one duplicate.
    expected_duplicates : float
        Duplicates per batch expected from an ideal (infinite-support) generator:
        ``N / (M + 1)`` with ``N = s(s-1)/2``, ``M = m(m-1)/2`` (about 1/4 for the
        default m = 2s).
    support_estimate : float
        ``N / (mean duplicates - expected_duplicates)``: the support size implied by the
        excess duplicate rate (``inf`` when there is no excess).
    support_estimate_collision : float
        Arora & Zhang's estimate from the collision rate ``p``:
        ``s^2 / (2 ln(1 / (1 - p)))`` (``p`` capped at ``1 - 1/(2B)``; no background
        correction, so an ideal generator gives about ``0.7 s^2``).
    pvalue : float
        P(this many duplicates or more) for an ideal generator (see Notes of
        :func:`birthday_test`).
    alpha : float
    verdict : str
        ``"collapsed"`` or ``"no collapse detected"``.
    rule : str
    meta : dict
    """

    space: str
    batch_size: int
    n_batches: int
    n_real: int
    threshold: float
    min_distances: np.ndarray
    n_duplicates: np.ndarray
    closest_pairs: np.ndarray
    closest_distances: np.ndarray
    collision_fraction: float
    expected_duplicates: float
    support_estimate: float
    support_estimate_collision: float
    pvalue: float
    alpha: float
    verdict: str
    rule: str
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def collapsed(self) -> bool:
        return self.verdict == "collapsed"

    def table(self) -> str:
        s, b = self.batch_size, self.n_batches
        lines = [
            f"birthday test in {self.space} space: {b} batches of s = {s} maps "
            f"(resolves supports up to ~s^2/2 = {s * (s - 1) / 2:.3g})",
            f"  duplicate threshold: {self.threshold:.4g} (closest pair of {self.n_real} "
            "real maps)",
            f"  closest pair per batch: min {self.min_distances.min():.4g}, median "
            f"{np.median(self.min_distances):.4g}",
            f"  duplicates: {int(self.n_duplicates.sum())} in total, "
            f"{self.n_duplicates.mean():.3g} per batch (ideal generator: "
            f"{self.expected_duplicates:.3g}); batches with one: "
            f"{100 * self.collision_fraction:.0f}%",
            f"  support estimate: {self.support_estimate:.3g} (excess duplicates), "
            f"{self.support_estimate_collision:.3g} (collision rate)",
            f"  p = {self.pvalue:.3g}; verdict: {self.verdict.upper()}  ({self.rule})",
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["collapsed"] = self.collapsed
        return _tolist(out)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_dataset(self) -> xr.Dataset:
        ds = xr.Dataset({
            "min_distance": ("batch", self.min_distances),
            "n_duplicates": ("batch", self.n_duplicates),
            "closest_pairs": (("batch", "rank", "member"), self.closest_pairs),
            "closest_distances": (("batch", "rank"), self.closest_distances),
        })
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float, str)):
                ds.attrs[f.name] = v
        ds.attrs["lensval_version"] = __version__
        return ds

    def to_netcdf(self, path) -> Path:
        from lensval.io import save_dataset

        return save_dataset(self.to_dataset(), path)

    def plot(self, path) -> Path:
        """PNG: closest-pair distance of each batch against the duplicate threshold."""
        from lensval._novelty_plots import birthday_plot

        return birthday_plot(path, self)


def _birthday_stats(n_dup: np.ndarray, s: int, m: int, alpha: float) -> dict[str, Any]:
    """Support estimates, p-value and verdict from the duplicate counts."""
    b = n_dup.size
    n_pairs_gen = s * (s - 1) / 2
    n_pairs_real = m * (m - 1) / 2
    expected = n_pairs_gen / (n_pairs_real + 1)
    total = int(n_dup.sum())
    excess = total / b - expected
    support = n_pairs_gen / excess if excess > 0 else float("inf")
    p_coll = float(np.mean(n_dup > 0))
    p_capped = min(p_coll, 1.0 - 1.0 / (2 * b))
    support_coll = (s * s / (2.0 * math.log(1.0 / (1.0 - p_capped)))
                    if p_capped > 0 else float("inf"))
    # ideal generator: each batch's count ~ Poisson(N F(t)) with M F(t) ~ Exp(1) shared
    # by all batches, so the total is geometric: P(T >= x) = (c / (1 + c))^x, c = B N / M
    c = b * n_pairs_gen / n_pairs_real
    pvalue = float(math.exp(total * math.log(c / (1.0 + c))))
    rule = (f"duplicate: a generated pair closer than the closest of the {m}({m}-1)/2 real "
            f"pairs; collapsed if P(T >= {total}) < {alpha:g} for an ideal generator, "
            "T ~ Geometric: P(T >= x) = (c/(1+c))^x, c = B N/M (Poisson approximation)")
    return dict(collision_fraction=p_coll, expected_duplicates=expected,
                support_estimate=support, support_estimate_collision=support_coll,
                pvalue=pvalue, verdict="collapsed" if pvalue < alpha else
                "no collapse detected", rule=rule)


class _SimulatedReal:
    """The simulator's validation split (seed 0) as real maps, streamed chunk by chunk."""

    name = "real (simulator validation split)"
    map_size = _defaults.MAP_SIZE
    angle_deg = _defaults.ANGLE_DEG

    def __init__(self, n: int) -> None:
        self.n = n

    def chunks(self, chunk_size: int) -> Iterator[tuple[int, np.ndarray]]:
        from lensval.simulator import iter_simulate

        yield from iter_simulate(self.n, "validation", SIMULATOR_SEED, chunk_size=chunk_size)


def _simulator_geometry(like, what: str) -> None:
    if like is not None and (like.map_size != _defaults.MAP_SIZE or
                             not math.isclose(like.angle_deg or _defaults.ANGLE_DEG,
                                              _defaults.ANGLE_DEG)):
        raise InputError(
            f"{what} maps are {like.map_size}^2 pixels, {like.angle_deg} deg: the simulator "
            "cannot stand in for the real maps; pass real=... (CLI: --real)")


def birthday_test(generator_or_maps, batch_size: int = BATCH_SIZE, space: str = "power", *,
                  n_batches: int | None = None, real=None, n_real: int | None = None,
                  rng=None, generator: Generator | str | None = None,
                  angle_deg: float | None = None, ell_edges=None, n_pairs: int = 5,
                  alpha: float = ALPHA, chunk_size: int = 1024, client=None,
                  progress: bool | None = None) -> BirthdayResult:
    """Birthday-paradox test of the support size (Arora & Zhang 2017).

    Parameters
    ----------
    generator_or_maps : Generator, str, array_like, DataArray or path
        A generator (instance or registry name), sampled ``n_batches`` times, or
        generated maps ``(n, M, M)`` cut into ``n // batch_size`` consecutive batches.
    batch_size : int
        ``s``, maps per batch. The test resolves supports up to about ``s^2 / 2``.
    space : {"power", "pixel", "features"}
        As in :func:`nearest_neighbours`.
    n_batches : int, optional
        ``B`` (default 10 for a generator, all full batches for maps).
    real : array_like, DataArray or path, optional
        Real maps; the first ``n_real`` set the duplicate threshold. Default: the
        simulator's validation split (seed 0), when the geometry matches.
    n_real : int, optional
        ``m`` (default ``2 * batch_size``; see Notes).
    rng : int or numpy.random.Generator, optional
        Seeds the generator's samples.
    generator : Generator or str, optional
        Feature provider when ``generator_or_maps`` are maps and ``space="features"``.
    angle_deg, ell_edges : optional
        Geometry of plain arrays; power-spectrum bins.
    n_pairs : int
        Closest pairs reported per batch.
    alpha : float
        Level of the test.
    chunk_size : int
        Rows per GEMM block (memory; does not change results).
    client : dask.distributed.Client, optional
        Run the block pairs on a dask cluster (worth it for pixel space at large s).
    progress : bool, optional

    Returns
    -------
    BirthdayResult

    Notes
    -----
    Rule. The duplicate threshold ``t`` is the smallest distance among the ``M =
    m(m-1)/2`` pairs of ``m`` real maps; a generated pair closer than ``t`` is a
    duplicate. For an ideal generator (continuous, infinite support) the pair
    distances near the minimum are approximately Poisson: the count in one batch of
    ``N = s(s-1)/2`` pairs is Poisson(``N F(t)``) with ``M F(t) ~ Exp(1)``, which gives
    ``N / (M + 1)`` expected duplicates per batch (about 1 for ``m = s``) and a
    geometric total over ``B`` batches: ``P(T >= x) = (c / (1 + c))^x``, ``c = B N /
    M``. A generator with ``k`` equally likely distinct maps adds ``N / k`` duplicates
    per batch, so ``k_hat = N / (T / B - N / (M + 1))``. Arora & Zhang's collision-rate
    estimate ``s^2 / (2 ln(1 / (1 - p)))`` is reported too. Exact distances as in
    :func:`nearest_neighbours`.

    Why ``m = 2s`` by default: Arora & Zhang compare with ``s`` real maps, but then an
    ideal generator shows about one "duplicate" per batch (a duplicate in about half
    the batches), and this background, random through ``t``, hides a support of
    ``k ~ s^2``. With ``m = 2s`` the background is 1/4 per batch; ``m = 4s``, 1/16.

    Cost. ``B s^2 d`` flops: power space (``d`` ~ 250) at ``s = 32768`` is about 20-60 s
    a batch on 2 cores; pixel space (``d = 65536``) about 70 TFLOP a batch (hours on 2
    cores: use ``client``), and it holds a batch of maps (4 s M^2 bytes; memory-mapped
    to a temporary file above 2 GiB).
    """
    _check_space(space)
    s = _positive_int(batch_size, "batch_size", 2)
    n_pairs = _positive_int(n_pairs, "n_pairs")
    chunk_size = _positive_int(chunk_size, "chunk_size")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    m = 2 * s if n_real is None else _positive_int(n_real, "n_real", 2)
    rng, seed = _resolve_rng(rng)

    gen_obj = None
    maps = None
    if isinstance(generator_or_maps, (Generator, str)) or (
            isinstance(generator_or_maps, type) and issubclass(generator_or_maps, Generator)):
        if isinstance(generator_or_maps, str) and os.path.exists(generator_or_maps):
            maps = _Maps(generator_or_maps, angle_deg, "generated")
        else:
            from lensval.plugins import get_generator

            gen_obj = get_generator(generator_or_maps)
    else:
        maps = _Maps(generator_or_maps, angle_deg, "generated")
    if generator is not None:
        from lensval.plugins import get_generator

        gen_obj = get_generator(generator)

    if maps is not None:
        n_full = maps.n // s
        if n_full < 1:
            raise InputError(f"{maps.n} generated maps cannot fill one batch of {s}: pass "
                             "more maps or a smaller batch_size")
        b = n_full if n_batches is None else _positive_int(n_batches, "n_batches")
        if b > n_full:
            raise InputError(f"{maps.n} maps fill only {n_full} batches of {s}, not {b}")
        geom = maps
    else:
        b = N_BATCHES if n_batches is None else _positive_int(n_batches, "n_batches")
        geom = None

    if real is None:
        _simulator_geometry(geom if geom is not None else gen_obj, "generated")
        real_maps = _SimulatedReal(m)
    else:
        real_maps = _Maps(real, angle_deg if angle_deg is not None else
                          (gen_obj.angle_deg if gen_obj is not None else None), "real")
        if real_maps.n < m:
            raise InputError(f"{real_maps.n} real maps given but n_real = {m} needed: pass "
                             "more real maps or a smaller n_real")
        real_maps = _Maps(real_maps.da.isel(sample=slice(0, m)), real_maps.angle_deg, "real")
    if geom is not None:
        angle = _check_geometry(real_maps, geom, space)
    else:
        if gen_obj.map_size != real_maps.map_size:
            raise ConfigMismatchError(
                f"generator maps are {gen_obj.map_size}^2 pixels but real maps are "
                f"{real_maps.map_size}^2: pass real maps of the generator's geometry")
        angle = real_maps.angle_deg or gen_obj.angle_deg
    emb = _Embedder(space, angle_deg=angle, ell_edges=ell_edges, generator=gen_obj)

    def find(rows: pw.Rows, threshold2: float) -> pw.PairBlockResult:
        return pw.closest_pairs(rows, n_pairs=n_pairs, threshold2=threshold2,
                                block=chunk_size, client=client)

    min_d = np.empty(b)
    n_dup = np.zeros(b, dtype=np.int64)
    pairs = np.full((b, n_pairs, 2), -1, dtype=np.int64)
    pair_d = np.full((b, n_pairs), np.nan)
    checked = 0
    with _bar(m + b * s, f"birthday ({space}, s = {s})", progress) as update:
        with contextlib.ExitStack() as stack:
            real_rows = emb.rows(real_maps.chunks(chunk_size), m, stack, update)
            res = find(real_rows, -np.inf)
            threshold2 = float(res.d2[0])
        for k in range(b):
            with contextlib.ExitStack() as stack:
                if maps is not None:
                    sub = _Maps(maps.da.isel(sample=slice(k * s, (k + 1) * s)), angle,
                                "generated")
                    rows = emb.rows_of(sub, chunk_size, stack, update)
                else:
                    blocks = _checked_blocks(gen_obj.iter_batches(s, rng), s, real_maps)
                    rows = emb.rows(blocks, s, stack, update)
                res = find(rows, threshold2)
            checked += res.n_checked
            npk = res.d2.size
            min_d[k] = math.sqrt(res.d2[0])
            n_dup[k] = res.n_below
            pairs[k, :npk] = res.pairs
            pair_d[k, :npk] = np.sqrt(res.d2)
    meta = {"angle_deg": angle, "map_size": real_maps.map_size, "seed": seed,
            "generator": gen_obj.describe() if gen_obj is not None else None,
            "exact_rechecks": checked, "lensval_version": __version__}
    if emb.ell is not None:
        meta["ell"] = emb.ell
    return BirthdayResult(
        space=space, batch_size=s, n_batches=b, n_real=m, threshold=math.sqrt(threshold2),
        min_distances=min_d, n_duplicates=n_dup, closest_pairs=pairs,
        closest_distances=pair_d, alpha=alpha, meta=meta,
        **_birthday_stats(n_dup, s, m, alpha))


def _checked_blocks(blocks, n: int, like: _Maps) -> Iterator[tuple[int, np.ndarray]]:
    """Generator output as float arrays of the expected shape, NaN/inf checked."""
    from lensval.io import check_finite

    seen = 0
    for start, block in blocks:
        block = np.asarray(block)
        if block.ndim == 4 and block.shape[1] == 1:
            block = block[:, 0]
        if block.ndim != 3 or block.shape[1:] != (like.map_size, like.map_size):
            raise InputError(f"generator returned maps of shape {block.shape[1:]}, expected "
                             f"({like.map_size}, {like.map_size})")
        check_finite(block, start, "generated")
        seen += block.shape[0]
        yield start, block
    if seen != n:
        raise InputError(f"generator returned {seen} maps, {n} asked for")


# --------------------------------------------------------------------------- latent
def slerp(z0, z1, t) -> np.ndarray:
    """Spherical linear interpolation between latent vectors (White 2016).

    Parameters
    ----------
    z0, z1 : array_like, shape (..., d)
        End points (broadcast against each other).
    t : float or array_like, shape (n_t,)
        Positions along the path, 0 at ``z0`` and 1 at ``z1``.

    Returns
    -------
    ndarray, shape (..., d) for scalar ``t`` or (n_t, ..., d)
        ``sin((1 - t) W) / sin W z0 + sin(t W) / sin W z1`` with ``W`` the angle
        between ``z0`` and ``z1``. For unit vectors the path is the great circle: unit
        norm, angle ``t W`` from ``z0``. Endpoints are exact. Nearly parallel vectors
        (``W < 1e-6``) fall back to linear interpolation.

    Raises
    ------
    InputError
        For (nearly) opposite vectors, where the great circle is not unique, or a
        zero vector.
    """
    z0 = np.asarray(z0, dtype=np.float64)
    z1 = np.asarray(z1, dtype=np.float64)
    z0, z1 = np.broadcast_arrays(z0, z1)
    t_arr = np.asarray(t, dtype=np.float64)
    if t_arr.ndim > 1:
        raise InputError("t must be a number or a 1-D array of positions")
    n0 = np.linalg.norm(z0, axis=-1, keepdims=True)
    n1 = np.linalg.norm(z1, axis=-1, keepdims=True)
    if np.any(n0 == 0) or np.any(n1 == 0):
        raise InputError("slerp needs nonzero vectors")
    cos = np.clip(np.sum(z0 * z1, axis=-1, keepdims=True) / (n0 * n1), -1.0, 1.0)
    omega = np.arccos(cos)
    if np.any(np.pi - omega < 1e-6):
        raise InputError("slerp between (nearly) opposite vectors is not unique: pick "
                         "another pair")
    tt = t_arr.reshape(t_arr.shape + (1,) * z0.ndim)
    sin_omega = np.sin(omega)
    small = omega < 1e-6
    safe = np.where(small, 1.0, sin_omega)
    w0 = np.where(small, 1.0 - tt, np.sin((1.0 - tt) * omega) / safe)
    w1 = np.where(small, tt, np.sin(tt * omega) / safe)
    out = w0 * z0 + w1 * z1
    # exact endpoints whatever the rounding of sin
    out = np.where(tt == 0.0, z0, out)
    out = np.where(tt == 1.0, z1, out)
    return out


@dataclasses.dataclass
class LatentPathResult:
    """Outcome of :func:`latent_path`.

    Attributes
    ----------
    space : str
        Space of the step distances.
    t : ndarray, shape (n_steps,)
        Positions along each path.
    z : ndarray, shape (n_paths, n_steps, latent_dim)
        Latent vectors (slerp between random end points).
    distances : ndarray, shape (n_paths, n_steps - 1)
        Distance between consecutive maps along each path.
    step_ratio : ndarray, shape (n_paths,)
        Largest step over median step of each path (1 for perfectly even steps;
        ``inf`` when the median step is 0 but some step is not).
    max_step_ratio : float
        The largest ``step_ratio``: the smoothness metric.
    jump_ratio : float
        Paths whose ratio exceeds this are flagged as jumps (a heuristic, not a test).
    verdict : str
        ``"smooth"`` or ``"jumps"``.
    maps : ndarray, shape (n_paths, n_steps, M, M), or None
        The maps (for the montage), when kept.
    meta : dict
    """

    space: str
    t: np.ndarray
    z: np.ndarray
    distances: np.ndarray
    step_ratio: np.ndarray
    max_step_ratio: float
    jump_ratio: float
    verdict: str
    maps: np.ndarray | None = dataclasses.field(default=None, repr=False)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def smooth(self) -> bool:
        return self.verdict == "smooth"

    def table(self) -> str:
        n_paths, n_steps = self.z.shape[:2]
        return "\n".join([
            f"latent interpolation (slerp): {n_paths} paths x {n_steps} steps, "
            f"{self.space}-space step distances",
            f"  median step {np.median(self.distances):.4g}; largest/median step per path: "
            + ", ".join(f"{r:.2f}" for r in self.step_ratio),
            f"  verdict: {self.verdict.upper()}  (jumps if a path's largest step exceeds "
            f"{self.jump_ratio:g} x its median step)",
        ])

    def to_dict(self) -> dict[str, Any]:
        return _tolist({"space": self.space, "verdict": self.verdict, "smooth": self.smooth,
                        "max_step_ratio": self.max_step_ratio, "jump_ratio": self.jump_ratio,
                        "step_ratio": self.step_ratio, "t": self.t,
                        "distances": self.distances, "meta": self.meta})

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_dataset(self) -> xr.Dataset:
        ds = xr.Dataset({
            "z": (("path", "step", "latent"), self.z),
            "distance": (("path", "interval"), self.distances),
            "step_ratio": ("path", self.step_ratio),
        }, coords={"t": ("step", self.t)})
        ds.attrs.update(space=self.space, verdict=self.verdict,
                        max_step_ratio=self.max_step_ratio, jump_ratio=self.jump_ratio,
                        lensval_version=__version__)
        return ds

    def to_netcdf(self, path) -> Path:
        from lensval.io import save_dataset

        return save_dataset(self.to_dataset(), path)

    def plot(self, path) -> Path:
        """Montage PNG like the paper's Fig. 8 (rows: paths; columns: steps)."""
        from lensval._novelty_plots import path_montage

        if self.maps is None:
            raise InputError("this result kept no maps: rerun latent_path(keep_maps=True)")
        return path_montage(path, self.maps, self.distances)


def _step_ratio(distances: np.ndarray) -> np.ndarray:
    med = np.median(distances, axis=1)
    top = distances.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(med > 0, top / np.where(med > 0, med, 1.0),
                         np.where(top > 0, np.inf, 1.0))
    return ratio


def latent_path(generator: Generator | str, n_paths: int = 8, n_steps: int = 16, *,
                rng=None, space: str = "pixel", ell_edges=None, keep_maps: bool = True,
                jump_ratio: float = JUMP_RATIO) -> LatentPathResult:
    """Maps along slerp paths between random latent vectors, and their step distances.

    Parameters
    ----------
    generator : Generator or str
        A generator with a latent space (``latent_dim > 0`` and ``decode``).
    n_paths : int
        Random pairs ``(z0, z1)`` drawn with ``generator.sample_latent``.
    n_steps : int
        Points per path, ``t = linspace(0, 1, n_steps)`` (at least 3).
    rng : int or numpy.random.Generator, optional
    space : {"pixel", "power", "features"}
        Where consecutive maps' distances are measured.
    ell_edges : array_like, optional
        Power-spectrum bins for ``space="power"``.
    keep_maps : bool
        Keep the maps in the result (for :meth:`LatentPathResult.plot`).
    jump_ratio : float
        Threshold of the ``"jumps"`` verdict on the largest/median step ratio.

    Returns
    -------
    LatentPathResult

    Notes
    -----
    Steps are equal in angle, so a generator that is smooth (Lipschitz with slowly
    varying Jacobian) along the path gives steps of similar size and a ratio of a few;
    one that assigns unrelated maps to nearby latents shows isolated steps many times
    the median. The ``jump_ratio`` threshold is a heuristic, not a calibrated test.
    """
    from lensval.plugins import get_generator

    gen = get_generator(generator)
    if gen.latent_dim <= 0:
        raise InputError(f"generator {gen.name or type(gen).__name__} has no latent space: "
                         "latent_path needs a generator with decode(z)")
    n_paths = _positive_int(n_paths, "n_paths")
    n_steps = _positive_int(n_steps, "n_steps", 3)
    _check_space(space)
    rng, seed = _resolve_rng(rng)
    ends = np.asarray(gen.sample_latent(2 * n_paths, rng), dtype=np.float64)
    t = np.linspace(0.0, 1.0, n_steps)
    z = np.moveaxis(slerp(ends[:n_paths], ends[n_paths:], t), 0, 1)  # (paths, steps, d)
    flat = z.reshape(n_paths * n_steps, -1).astype(np.float32)
    maps = np.concatenate([np.asarray(gen.decode(flat[i:i + gen.batch_size]))
                           for i in range(0, flat.shape[0], gen.batch_size)])
    if maps.ndim == 4 and maps.shape[1] == 1:
        maps = maps[:, 0]
    from lensval.io import check_finite

    check_finite(maps, 0, "generated")
    emb = _Embedder(space, angle_deg=gen.angle_deg, ell_edges=ell_edges, generator=gen)
    rows = np.asarray(emb(maps), dtype=np.float64).reshape(n_paths, n_steps, -1)
    dist = np.sqrt(np.sum(np.diff(rows, axis=1) ** 2, axis=-1))
    ratio = _step_ratio(dist)
    worst = float(ratio.max())
    return LatentPathResult(
        space=space, t=t, z=z, distances=dist, step_ratio=ratio, max_step_ratio=worst,
        jump_ratio=jump_ratio, verdict="smooth" if worst <= jump_ratio else "jumps",
        maps=maps.reshape(n_paths, n_steps, *maps.shape[1:]) if keep_maps else None,
        meta={"seed": seed, "generator": gen.describe(), "angle_deg": gen.angle_deg,
              "lensval_version": __version__})


# --------------------------------------------------------------------------- novelty
@dataclasses.dataclass
class NoveltyResult:
    """Outcome of :func:`check_novelty`: nearest neighbours per space + latent paths.

    Attributes
    ----------
    nearest : dict of str -> NearestNeighbourResult
    latent : LatentPathResult or None
        None for generators without a latent space.
    meta : dict
        Generator, sizes, sources of the training and reference sets, seed.
    """

    nearest: dict[str, NearestNeighbourResult]
    latent: LatentPathResult | None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def memorising(self) -> bool | None:
        flags = [r.memorising for r in self.nearest.values() if r.memorising is not None]
        return any(flags) if flags else None

    def table(self) -> str:
        parts = [r.table() for r in self.nearest.values()]
        if self.latent is not None:
            parts.append(self.latent.table())
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return _tolist({
            "memorising": self.memorising,
            "nearest_neighbours": {k: r.to_dict() for k, r in self.nearest.items()},
            "latent_path": None if self.latent is None else self.latent.to_dict(),
            "meta": self.meta,
        })

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_netcdf(self, path) -> Path:
        """One NetCDF file, a group per part (``nearest_pixel``, ..., ``latent_path``)."""
        from lensval.io import atomic_path

        with atomic_path(path) as tmp:
            mode = "w"
            for k, r in self.nearest.items():
                r.to_dataset().to_netcdf(tmp, group=f"nearest_{k}", mode=mode,
                                         engine="h5netcdf")
                mode = "a"
            if self.latent is not None:
                self.latent.to_dataset().to_netcdf(tmp, group="latent_path", mode=mode,
                                                   engine="h5netcdf")
        return Path(path)

    def report(self, directory, generated=None, training=None) -> list[Path]:
        """Write the figures (PNG) into ``directory``; returns their paths."""
        out_dir = Path(directory)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for k, r in self.nearest.items():
            paths.append(r.plot_distances(out_dir / f"nn_distances_{k}.png"))
            if generated is not None and training is not None:
                paths.append(r.plot(out_dir / f"nn_montage_{k}.png", generated, training))
        if self.latent is not None and self.latent.maps is not None:
            paths.append(self.latent.plot(out_dir / "latent_paths.png"))
        return paths


def check_novelty(generator: Generator | str, n: int = N_NOVELTY, *, training=None,
                  reference=None, n_train: int = N_TRAIN, n_reference: int = N_REFERENCE,
                  spaces: Iterable[str] | None = None, n_paths: int = 8,
                  n_steps: int = 16, rng=None, chunk_size: int = _defaults.CHUNK_SIZE,
                  report: str | os.PathLike | None = None,
                  progress: bool | None = None) -> NoveltyResult:
    """Generate ``n`` maps and run the nearest-neighbour and latent-path checks.

    Parameters
    ----------
    generator : Generator or str
    n : int
        Maps to generate.
    training, reference : array_like, DataArray or path, optional
        Training set and held-out maps. Default: the simulator's ``train`` and
        ``validation`` splits (seed 0), ``n_train`` and ``n_reference`` maps, when the
        generator's geometry is the simulator's (256^2 maps of 0.866 deg).
    spaces : iterable of str, optional
        Default ``("pixel", "power")`` plus ``"features"`` when the generator has them.
    n_paths, n_steps : int
        Latent paths (skipped for generators without a latent space, or ``n_paths=0``).
    rng : int or numpy.random.Generator, optional
        Seeds generation and the latent paths (the seed is recorded in ``meta``).
    report : path, optional
        Folder for the figures (montages, histograms).

    Returns
    -------
    NoveltyResult
    """
    from lensval.plugins import get_generator

    gen = get_generator(generator)
    n = _positive_int(n, "n")
    rng, seed = _resolve_rng(rng)
    gen_rng, path_rng = rng.spawn(2)
    from lensval.simulator import simulate

    sources = {}
    if training is None or reference is None:
        if (gen.map_size != _defaults.MAP_SIZE
                or not math.isclose(gen.angle_deg, _defaults.ANGLE_DEG)):
            raise InputError(
                f"generator maps are {gen.map_size}^2 pixels, {gen.angle_deg:.4g} deg: the "
                "simulator cannot stand in for the training/reference sets; pass training= "
                "and reference= (CLI: --train, --reference)")
    if training is None:
        training = simulate(_positive_int(n_train, "n_train"), split="train",
                            seed=SIMULATOR_SEED, progress=progress)
        sources["training"] = f"simulator train split, seed {SIMULATOR_SEED}, {n_train} maps"
    else:
        sources["training"] = str(training) if isinstance(training, (str, Path)) else "given"
    if reference is None:
        reference = simulate(_positive_int(n_reference, "n_reference"), split="validation",
                             seed=SIMULATOR_SEED, progress=progress)
        sources["reference"] = (f"simulator validation split, seed {SIMULATOR_SEED}, "
                                f"{n_reference} maps")
    else:
        sources["reference"] = (str(reference) if isinstance(reference, (str, Path))
                                else "given")
    chunks = list(_checked_blocks(gen.iter_batches(n, gen_rng), n,
                                  _Maps(training, gen.angle_deg, "training")))
    generated = xr.DataArray(np.concatenate([c for _, c in chunks]),
                             dims=("sample", "y", "x"), name="kappa",
                             attrs={"angle_deg": gen.angle_deg})
    del chunks
    if spaces is None:
        spaces = ["pixel", "power"]
        if gen.features(np.asarray(generated[:1].values)) is not None:
            spaces.append("features")
    nearest = {}
    for space in spaces:
        nearest[space] = nearest_neighbours(
            generated, training, space, generator=gen, reference=reference,
            chunk_size=chunk_size, angle_deg=gen.angle_deg, progress=progress)
    latent = None
    if gen.latent_dim > 0 and n_paths > 0:
        latent = latent_path(gen, n_paths, n_steps, rng=path_rng)
    res = NoveltyResult(nearest, latent, meta={
        "generator": gen.describe(), "n_generated": n, "seed": seed, **sources,
        "lensval_version": __version__})
    if report is not None:
        res.report(report, generated, training)
    return res
