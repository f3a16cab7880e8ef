"""Exact Euclidean nearest-neighbour and closest-pair search by blocked GEMM.

Plain arrays in, plain arrays out (no xarray, no I/O): the engine behind
:mod:`lensval.novelty`.

Method
------
For rows ``a`` of ``A`` and ``b`` of ``B`` the squared distance is estimated as
``|a|^2 + |b|^2 - 2 a.b`` with the dot products from BLAS (float32 for wide rows such
as pixels, float64 for narrow ones such as log power spectra), accumulated in float64
over slices of ``K_SLICE`` columns. Every estimate carries a rigorous error bound
(Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Eq. 3.5: a dot
product of length ``L`` summed in any order has error at most
``gamma_L sum |a_k b_k| <= gamma_L |a| |b|`` with ``gamma_L = L u / (1 - L u)``).
Only pairs whose lower bound can still beat the best exact distance found so far are
re-evaluated *exactly*, as ``sum((a - b)**2)`` in float64 -- the same expression a
brute-force NumPy search uses -- so the indices and distances returned are those of
the brute-force search (ties go to the smallest index), independent of block sizes.

The bound is what makes float32 safe: a whole 65536-pixel dot product in float32 could
be off by ``gamma_65536 ~ 4e-3`` of ``|a||b|``, enough to swap neighbours; slices of
4096 columns cut the bound to ``2.4e-4`` at no cost in speed, so few candidates need
the exact check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["Rows", "nearest", "closest_pairs", "block_pairs", "pair_block"]

#: Columns per float32 GEMM slice (bounds the rounding error, see the module notes).
K_SLICE = 4096
#: Rows of the exact re-check evaluated at once (bounds its float64 temporaries).
_RECHECK_BYTES = 64 * 2**20


def _gamma(n: int, u: float) -> float:
    return n * u / (1.0 - n * u)


@dataclasses.dataclass
class Rows:
    """Points to search, as an ``(n, d)`` array-like (ndarray or ``np.memmap``).

    Attributes
    ----------
    data : ndarray, shape (n, d)
        The points as given (any float dtype). Exact distances use these values.
    gemm_dtype : numpy dtype
        Dtype of the BLAS products (float32 or float64).
    sq : ndarray, shape (n,)
        Squared norms in float64.
    """

    data: np.ndarray
    gemm_dtype: np.dtype
    sq: np.ndarray

    @classmethod
    def build(cls, data: np.ndarray, gemm_dtype=None, block: int = 1024) -> Rows:
        """Wrap ``data`` (n, d); ``gemm_dtype=None`` picks float32 when ``d >= 1024``."""
        if data.ndim != 2:
            raise ValueError("Rows needs a 2-D (n, d) array")
        d = data.shape[1]
        if gemm_dtype is None:
            gemm_dtype = np.float32 if d >= 1024 else np.float64
        sq = np.empty(data.shape[0])
        for i0 in range(0, data.shape[0], block):
            blk = np.asarray(data[i0:i0 + block], dtype=np.float64)
            sq[i0:i0 + block] = np.einsum("ij,ij->i", blk, blk)
        return cls(data, np.dtype(gemm_dtype), sq)

    @property
    def n(self) -> int:
        return self.data.shape[0]

    @property
    def d(self) -> int:
        return self.data.shape[1]

    def gemm_block(self, i0: int, i1: int) -> np.ndarray:
        """Rows ``i0:i1`` in the GEMM dtype (a view when no conversion is needed)."""
        return np.asarray(self.data[i0:i1], dtype=self.gemm_dtype)

    def exact(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` in float64 for the exact re-check."""
        return np.asarray(self.data[idx], dtype=np.float64)


def _error_coefficients(d: int, gemm_dtype: np.dtype) -> tuple[float, float]:
    """``(c_dot, c_norm)`` with ``|estimate - exact| <= c_dot |a||b| + c_norm (|a|^2+|b|^2)``.

    ``exact`` is the float64 brute-force value ``sum((a - b)**2)``. Terms: the GEMM on
    slices (``gamma_L`` of the GEMM dtype), the conversion of the inputs to that dtype
    (3u), float64 norms and accumulation, and the float64 rounding of the brute-force
    value itself (``gamma_d`` plus a few ulps, on ``|a - b|^2 <= 2(|a|^2 + |b|^2)``).
    A factor of 2 on top is a safety margin, not a correction.
    """
    u = float(np.finfo(gemm_dtype).eps) / 2.0
    u64 = float(np.finfo(np.float64).eps) / 2.0
    slice_len = min(d, K_SLICE) if gemm_dtype == np.float32 else d
    n_slices = -(-d // slice_len)
    eps_dot = _gamma(slice_len, u) + 3.0 * u + _gamma(n_slices + 1, u64)
    eps_64 = 2.0 * _gamma(d + 2, u64) + 8.0 * u64
    c_dot = 2.0 * (2.0 * eps_dot + 4.0 * eps_64)
    c_norm = 2.0 * (3.0 * eps_64)
    return c_dot, c_norm


def _products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b.T`` accumulated in float64 over column slices (float32 inputs)."""
    if a.dtype == np.float64:
        return a @ b.T
    d = a.shape[1]
    if d <= K_SLICE:
        return (a @ b.T).astype(np.float64)
    out = np.zeros((a.shape[0], b.shape[0]))
    part = np.empty((a.shape[0], b.shape[0]), dtype=a.dtype)
    for k0 in range(0, d, K_SLICE):
        np.matmul(a[:, k0:k0 + K_SLICE], b[:, k0:k0 + K_SLICE].T, out=part)
        out += part
    return out


def _exact_d2(A: Rows, ia: np.ndarray, B: Rows, ib: np.ndarray) -> np.ndarray:
    """Exact float64 ``sum((A[ia] - B[ib])**2, axis=1)`` in groups (bounded memory)."""
    out = np.empty(ia.size)
    step = max(1, _RECHECK_BYTES // (8 * max(A.d, 1)))
    for s0 in range(0, ia.size, step):
        a = A.exact(ia[s0:s0 + step])
        a -= B.exact(ib[s0:s0 + step])
        a *= a
        out[s0:s0 + step] = a.sum(axis=1)
    return out


def _block_d2(A: Rows, a0: int, a1: int, ablk: np.ndarray, B: Rows, b0: int,
              b1: int, bblk: np.ndarray, c_dot: float, c_norm: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Estimated ``d2`` for rows ``a0:a1`` x ``b0:b1`` and a per-row error bound.

    The bound uses the largest norm in the ``b`` block, so it is one number per row
    (cheaper than a full matrix; looser only by the spread of norms in a block).
    """
    est = _products(ablk, bblk)
    est *= -2.0
    est += A.sq[a0:a1, None]
    est += B.sq[None, b0:b1]
    sb_max = np.sqrt(B.sq[b0:b1].max())
    sa = np.sqrt(A.sq[a0:a1])
    err = c_dot * sa * sb_max + c_norm * (A.sq[a0:a1] + sb_max**2)
    return est, err


# --------------------------------------------------------------------------- nearest
def nearest(A: Rows, B: Rows, *, k: int = 1, block_a: int = 256, block_b: int = 1024,
            progress: Callable[[int], None] | None = None
            ) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact ``k`` nearest rows of ``B`` for every row of ``A``.

    Returns
    -------
    index : ndarray of int64, shape (n_a, k)
        Indices into ``B``, nearest first (ties: smaller index first); -1 where ``B``
        has fewer than ``k`` rows.
    d2 : ndarray of float64, shape (n_a, k)
        The brute-force squared distances ``sum((A[i] - B[index[i, j]])**2)``.
    n_checked : int
        Pairs re-evaluated exactly (a measure of how tight the bound was).
    """
    if A.d != B.d:
        raise ValueError(f"dimension mismatch: {A.d} vs {B.d}")
    gemm_dtype = np.promote_types(A.gemm_dtype, B.gemm_dtype)
    c_dot, c_norm = _error_coefficients(A.d, gemm_dtype)
    index = np.empty((A.n, k), dtype=np.int64)
    best = np.empty((A.n, k))
    n_checked = 0
    for a0 in range(0, A.n, block_a):
        a1 = min(a0 + block_a, A.n)
        ablk = np.asarray(A.data[a0:a1], dtype=gemm_dtype)
        r = a1 - a0
        best_d2 = np.full((r, k), np.inf)
        best_i = np.full((r, k), -1, dtype=np.int64)
        for b0 in range(0, B.n, block_b):
            b1 = min(b0 + block_b, B.n)
            bblk = np.asarray(B.data[b0:b1], dtype=gemm_dtype)
            est, err = _block_d2(A, a0, a1, ablk, B, b0, b1, bblk, c_dot, c_norm)
            # a pair is a candidate while its lower bound est - err can still reach the
            # k-th best exact value, or the k-th best upper bound in this block
            kth_ub = (np.partition(est, k - 1, axis=1)[:, k - 1] + err if b1 - b0 >= k
                      else np.full(r, np.inf))
            limit = np.minimum(best_d2[:, -1], kth_ub) + err
            rows, cols = np.nonzero(est <= limit[:, None])
            exact = _exact_d2(A, rows + a0, B, cols + b0)
            n_checked += rows.size
            best_d2, best_i = _merge_best(best_d2, best_i, rows, cols + b0, exact)
        index[a0:a1] = best_i
        best[a0:a1] = best_d2
        if progress is not None:
            progress(r)
    return index, best, n_checked


def _merge_best(best_d2: np.ndarray, best_i: np.ndarray, rows: np.ndarray,
                cols: np.ndarray, d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``k`` smallest ``(d2, index)`` per row of the old best and new candidates."""
    r, k = best_d2.shape
    all_rows = np.concatenate([np.repeat(np.arange(r), k), rows])
    all_cols = np.concatenate([best_i.ravel(), cols])
    all_d2 = np.concatenate([best_d2.ravel(), d2])
    empty = all_cols < 0  # unfilled slots sort last
    order = np.lexsort((all_cols, empty, all_d2, all_rows))
    all_rows, all_cols, all_d2 = all_rows[order], all_cols[order], all_d2[order]
    starts = np.searchsorted(all_rows, np.arange(r))
    take = starts[:, None] + np.arange(k)[None, :]  # each row has >= k entries
    return all_d2[take], all_cols[take]


# --------------------------------------------------------------------------- pairs
def block_pairs(n: int, block: int) -> Iterator[tuple[int, int, int, int]]:
    """Upper-triangular block pairs ``(i0, i1, j0, j1)`` with ``i0 <= j0`` covering ``i < j``."""
    for i0 in range(0, n, block):
        for j0 in range(i0, n, block):
            yield i0, min(i0 + block, n), j0, min(j0 + block, n)


@dataclasses.dataclass
class PairBlockResult:
    """Closest pairs and threshold counts of one block pair (exact values).

    ``pairs`` (m, 2) int64 with ``i < j``, ``d2`` (m,) sorted ascending (ties by i, j):
    the block's ``n_pairs`` closest pairs. ``n_below``: pairs with ``d2 < threshold2``;
    ``below`` (b, 2) and ``below_d2`` (b,) the first ``keep_below`` of them. ``n_checked``:
    pairs re-evaluated exactly.
    """

    pairs: np.ndarray
    d2: np.ndarray
    n_below: int
    below: np.ndarray
    below_d2: np.ndarray
    n_checked: int


def pair_block(X: Rows, i0: int, i1: int, j0: int, j1: int, *, n_pairs: int,
               threshold2: float, limit2: float = np.inf, keep_below: int = 1000
               ) -> PairBlockResult:
    """Exact closest pairs (``i < j``) and count of ``d2 < threshold2`` in one block pair.

    ``limit2`` is an exact squared distance already achieved by ``n_pairs`` pairs found
    elsewhere: pairs certainly above it are skipped (pruning only; exactness holds
    for any value).
    """
    c_dot, c_norm = _error_coefficients(X.d, X.gemm_dtype)
    a = X.gemm_block(i0, i1)
    b = a if (i0, i1) == (j0, j1) else X.gemm_block(j0, j1)
    est, err = _block_d2(X, i0, i1, a, X, j0, j1, b, c_dot, c_norm)
    if i0 == j0:  # same block: only i < j are pairs
        est[np.tril_indices(i1 - i0, 0, j1 - j0)] = np.inf
    lower = est - err[:, None]
    # n_pairs-th smallest upper bound in this block: a second exact limit
    flat_ub = (est + err[:, None]).ravel()
    k = min(n_pairs, flat_ub.size)
    if k > 0:
        kth_ub = np.partition(flat_ub, k - 1)[k - 1]
        limit2 = min(limit2, kth_ub)
    candidate = (lower <= limit2) | (lower < threshold2)
    if i0 == j0:
        candidate &= ~np.tri(i1 - i0, j1 - j0, 0, dtype=bool)
    rows, cols = np.nonzero(candidate)
    ia, ib = rows + i0, cols + j0
    exact = _exact_d2(X, ia, X, ib) if rows.size else np.empty(0)
    order = np.lexsort((ib, ia, exact))
    ia, ib, exact = ia[order], ib[order], exact[order]
    is_below = exact < threshold2
    top = slice(0, min(n_pairs, exact.size))
    return PairBlockResult(
        pairs=np.stack([ia[top], ib[top]], axis=1),
        d2=exact[top],
        n_below=int(is_below.sum()),
        below=np.stack([ia[is_below], ib[is_below]], axis=1)[:keep_below],
        below_d2=exact[is_below][:keep_below],
        n_checked=int(rows.size),
    )


def merge_pair_results(results: list[PairBlockResult], n_pairs: int, keep_below: int
                       ) -> PairBlockResult:
    """Combine block results: global closest pairs (ties by i, j) and summed counts."""
    if not results:
        empty = np.empty((0, 2), dtype=np.int64)
        return PairBlockResult(empty, np.empty(0), 0, empty, np.empty(0), 0)
    pairs = np.concatenate([r.pairs for r in results])
    d2 = np.concatenate([r.d2 for r in results])
    order = np.lexsort((pairs[:, 1], pairs[:, 0], d2))[:n_pairs]
    below = np.concatenate([r.below for r in results])
    below_d2 = np.concatenate([r.below_d2 for r in results])
    bo = np.lexsort((below[:, 1], below[:, 0], below_d2))[:keep_below]
    return PairBlockResult(pairs[order], d2[order], sum(r.n_below for r in results),
                           below[bo], below_d2[bo], sum(r.n_checked for r in results))


def closest_pairs(X: Rows, *, n_pairs: int = 1, threshold2: float = -np.inf,
                  block: int = 1024, keep_below: int = 1000,
                  progress: Callable[[int], None] | None = None,
                  client=None) -> PairBlockResult:
    """Exact ``n_pairs`` closest pairs within ``X`` and the count of ``d2 < threshold2``.

    With a ``dask.distributed`` ``client`` the block pairs run as tasks on its workers
    (``X.data`` is scattered once, or read by the workers if it is a memory map).
    """
    if X.n < 2:
        raise ValueError("need at least 2 rows for pairs")
    blocks = list(block_pairs(X.n, block))
    if client is not None:
        return _closest_pairs_dask(X, blocks, n_pairs, threshold2, keep_below, client,
                                   progress)
    results: list[PairBlockResult] = []
    limit2 = np.inf
    for i0, i1, j0, j1 in blocks:
        res = pair_block(X, i0, i1, j0, j1, n_pairs=n_pairs, threshold2=threshold2,
                         limit2=limit2, keep_below=keep_below)
        results.append(res)
        merged = merge_pair_results(results, n_pairs, keep_below)
        results = [merged]
        if merged.d2.size >= n_pairs:
            limit2 = float(merged.d2[-1])
        if progress is not None:
            progress(1)
    return results[0]


def _closest_pairs_dask(X: Rows, blocks, n_pairs, threshold2, keep_below, client,
                        progress) -> PairBlockResult:
    from distributed import as_completed  # lazy: optional dependency

    x_future = client.scatter(X, broadcast=True)
    futures = [client.submit(pair_block, x_future, *blk, n_pairs=n_pairs,
                             threshold2=threshold2, keep_below=keep_below, pure=False)
               for blk in blocks]
    results = []
    for fut in as_completed(futures):
        results.append(fut.result())
        if progress is not None:
            progress(1)
    return merge_pair_results(results, n_pairs, keep_below)
