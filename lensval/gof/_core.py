"""Input validation and the presorted pooled columns shared by every two-sample test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lensval.errors import InputError


@dataclass(frozen=True)
class TwoSample:
    """Two samples pooled column by column, shape ``(n_cols, n_a + n_b)``.

    ``out_shape`` is the shape of one statistic per column (``()`` for 1-D input).
    """

    x: np.ndarray
    n_a: int
    n_b: int
    out_shape: tuple[int, ...]

    @property
    def n(self) -> int:
        return self.n_a + self.n_b

    @property
    def n_cols(self) -> int:
        return self.x.shape[0]

    def reshape(self, values: np.ndarray) -> np.ndarray:
        """Per-column values ``(..., n_cols)`` -> ``(..., *out_shape)``; 0-d -> scalar."""
        values = np.asarray(values)
        out = values.reshape(values.shape[:-1] + self.out_shape)
        return out[()] if out.ndim == 0 else out


def two_sample_iv(a, b, axis: int) -> TwoSample:
    """Validate ``a``, ``b`` and pool them into a C-contiguous ``(n_cols, n)`` float64 array.

    The sample axis ``axis`` may differ in length between ``a`` and ``b``; all other axes
    must agree and become the columns (flattened in C order).
    """
    try:
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"two-sample inputs must be numeric arrays ({exc})") from None
    if a.ndim == 0 or b.ndim == 0:
        raise InputError("two-sample inputs must have a sample axis; got a scalar")
    if a.ndim != b.ndim:
        raise InputError(
            f"a and b must have the same number of dimensions; got {a.ndim} and {b.ndim}"
        )
    try:
        a = np.moveaxis(a, axis, 0)
        b = np.moveaxis(b, axis, 0)
    except np.exceptions.AxisError:
        raise InputError(f"axis={axis} is out of range for {a.ndim}-D inputs") from None
    if a.shape[1:] != b.shape[1:]:
        raise InputError(
            f"a and b must agree on every axis but the sample axis; got column shapes "
            f"{a.shape[1:]} and {b.shape[1:]}"
        )
    n_a, n_b = a.shape[0], b.shape[0]
    if n_a == 0 or n_b == 0:
        raise InputError(f"both samples need at least one observation; got n_a={n_a}, n_b={n_b}")
    out_shape = a.shape[1:]
    pooled = np.concatenate([a.reshape(n_a, -1), b.reshape(n_b, -1)], axis=0)
    if np.isnan(pooled).any():
        raise InputError("two-sample inputs contain NaN; drop or mask those values first")
    return TwoSample(np.ascontiguousarray(pooled.T), n_a, n_b, out_shape)


@dataclass(frozen=True)
class Sorted:
    """Per-column sort and lookup tables (see :func:`lensval._kernels.gof.prepare_columns`)."""

    order: np.ndarray
    rank: np.ndarray
    run_start: np.ndarray
    run_stop: np.ndarray
    w: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    w2: np.ndarray


def presort(data: TwoSample) -> Sorted:
    """Sort every pooled column once and build the resampling tables (7 arrays of x's shape)."""
    from lensval._kernels.gof import prepare_columns

    shape = data.x.shape
    # stability is irrelevant: only runs of equal values matter
    order = np.argsort(data.x, axis=1).astype(np.int32)
    ints = [np.empty(shape, dtype=np.int32) for _ in range(3)]
    floats = [np.empty(shape, dtype=np.float64) for _ in range(3)]
    w2 = np.empty(shape[0], dtype=np.float64)
    if shape[0]:
        prepare_columns(data.x, order, *ints, *floats, w2)
    return Sorted(order, *ints, *floats, w2)


def smaller_sample(data: TwoSample) -> tuple[int, int, bool]:
    """(m, offset, marks_b): the sample the kernels mark is the smaller one (b on a tie)."""
    if data.n_b <= data.n_a:
        return data.n_b, data.n_a, True
    return data.n_a, 0, False


def dense(data: TwoSample) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(KS numerator, sign, location, A2kN) of the given labelling; light on memory."""
    from lensval._kernels.gof import dense_stats

    order = np.argsort(data.x, axis=1)
    d_int = np.zeros(data.n_cols, dtype=np.int64)
    sign = np.ones(data.n_cols, dtype=np.int8)
    loc = np.zeros(data.n_cols, dtype=np.float64)
    a2 = np.zeros(data.n_cols, dtype=np.float64)
    if data.n_cols:
        dense_stats(data.x, order, data.n_a, d_int, sign, loc, a2)
    return d_int, sign, loc, a2


def single_valued(data: TwoSample) -> np.ndarray:
    """Columns whose pooled values are all equal (no AD statistic there)."""
    return data.x.min(axis=1) == data.x.max(axis=1) if data.n else np.zeros(0, bool)


def observed(data: TwoSample, srt: Sorted) -> tuple[np.ndarray, np.ndarray]:
    """KS numerators ``max |X|`` (int64) and ``A2kN`` (float64) of the given labelling."""
    from lensval._kernels.gof import observed_stats

    m, offset, _ = smaller_sample(data)
    marks = np.arange(offset, offset + m, dtype=np.int64)
    d_int = np.zeros(data.n_cols, dtype=np.int64)
    a2 = np.zeros(data.n_cols, dtype=np.float64)
    if data.n_cols:
        observed_stats(marks, srt.rank, srt.run_start, srt.run_stop, srt.w, d_int, a2)
    return d_int, a2 / (float(data.n_a) * float(data.n_b))


def resolve_rng(rng) -> np.random.Generator:
    """``None``, an int seed or a Generator -> Generator (a Generator is used as is)."""
    if isinstance(rng, np.random.RandomState):
        raise InputError("rng must be an int seed or a numpy.random.Generator, not RandomState")
    return np.random.default_rng(rng)
