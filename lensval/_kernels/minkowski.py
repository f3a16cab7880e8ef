"""Minkowski functionals V0, V1, V2 of thresholded maps (LensTools ``minkowski``).

Finite differences, integrands and threshold tests follow LensTools' C code operation
by operation (same stencils, same association order, the I2 switch at a zero
gradient, the per-pixel division by ``N^2 dnu``), and pixels are accumulated in the
same flat row-major order, so each bin's sum is bit-identical. What is cheaper than
LensTools without changing a bit:

- the map is copied once into a wrap-padded array, so stencils need no modulo, and
  the integrands of a row are computed in one branch-free loop that LLVM vectorises
  (IEEE division and sqrt give the same bits in SIMD lanes);
- a pixel's V0 and V1/V2 bins come from one exact, table-guided lookup (:mod:`._bins`)
  in the merged, sorted list ``t_0 <= m_0 <= t_1 <= m_1 <= ... <= t_nb`` of bin edges
  ``t_i = nu_i sigma`` and V0 thresholds ``m_i = (nu_i + nu_i+1) sigma / 2``: the
  number of entries <= v, J, gives ``#(t <= v) = (J + 1) // 2`` and ``#(m <= v) = J // 2``;
- V0 counts pixels; LensTools adds ``1 / N^2`` once per pixel, so the count is mapped
  through ``v0_table[c]`` = that repeated sum (exact for any N, not only powers of 2).
"""

from __future__ import annotations

import math

import numpy as np

from lensval._kernels._bins import count_le_row, make_locator, n_cells_for
from lensval._kernels._jit import jit

_TWO_PI = 2.0 * math.pi
_FOUR_PI = 4.0 * math.pi
PAD = 2  # stencil half-width (the stride-2 second derivatives)


@jit()
def repeated_sum_table(step, n):
    """``table[c]`` = ``step`` added ``c`` times to 0.0, for c in 0..n (float64)."""
    table = np.empty(n + 1)
    acc = 0.0
    table[0] = 0.0
    for c in range(1, n + 1):
        acc += step
        table[c] = acc
    return table


@jit()
def wrap_pad(a, pad, out):
    """``out`` (N + 2 pad, N + 2 pad) = ``a`` (N, N) padded with periodic wrap."""
    n = a.shape[0]
    for y in range(-pad, n + pad):
        src = a[(y + n) % n]
        dst = out[y + pad]
        for x in range(n):
            dst[x + pad] = src[x]
        for x in range(pad):
            dst[x] = src[n - pad + x]
            dst[n + pad + x] = src[x]


@jit()
def _merged_edges(nu, s, e):
    """``e = [t_0, m_0, t_1, ..., m_nb-1, t_nb]`` for threshold unit ``s`` (see module doc)."""
    nb = nu.shape[0] - 1
    for i in range(nb):
        e[2 * i] = nu[i] * s
        e[2 * i + 1] = (nu[i] + nu[i + 1]) * s / 2
    e[2 * nb] = nu[nb] * s
    for i in range(2 * nb):
        if e[i + 1] < e[i]:  # only with sub-normal thresholds
            raise ValueError("Minkowski thresholds too close to zero to order them")


@jit()
def _integrands_row(af, start, stride, dd, q1, q2):
    """``q1, q2 = I1 / dd, I2 / dd`` for the pixels ``af[start:start + len(q1)]``.

    ``af`` is the padded map, flattened (row stride ``stride``). Branch-free (both I2
    formulas are evaluated and one is selected) and indexed with unsigned integers,
    so LLVM vectorises it.
    """
    w = np.uint64(stride)
    one = np.uint64(1)
    two = np.uint64(2)
    s0 = np.uint64(start)
    for i in range(q1.shape[0]):
        p = s0 + np.uint64(i)
        v = af[p]
        gx = (af[p + one] - af[p - one]) / 2.0
        gy = (af[p + w] - af[p - w]) / 2.0
        hxx = (af[p + two] + af[p - two] - 2 * v) / 4.0
        hyy = (af[p + two * w] + af[p - two * w] - 2 * v) / 4.0
        hxy = (af[p + w + one] + af[p - w - one] - af[p + w - one] - af[p - w + one]) / 4.0
        g2 = gx * gx + gy * gy
        i1 = 0.25 * np.sqrt(g2)
        flat = (2 * hxy - hxx - hyy) / _FOUR_PI
        curved = ((2 * gx * gy * hxy - gx * gx * hyy - gy * gy * hxx) / g2) / _TWO_PI
        i2 = flat if g2 == 0.0 else curved
        d = dd[i]
        q1[i] = i1 / d
        q2[i] = i2 / d


@jit()
def minkowski_batch(maps, sigma, nu, den, v0_table, border, out_v0, out_v1, out_v2):
    """Minkowski functionals of each map.

    Parameters
    ----------
    maps : (k, N, N) float64, C-contiguous
    sigma : (k,) float64
        Threshold unit per map (the map's std, or 1.0 for thresholds in kappa units).
    nu : (nbins + 1,) float64
        Strictly increasing threshold edges.
    den : (nbins,) float64
        ``float(n_pix) * (nu[i+1] - nu[i])``, the per-pixel divisor of V1 and V2.
    v0_table : (n_pix + 1,) float64
        ``repeated_sum_table(1.0 / n_pix, n_pix)``.
    border : int
        0 for periodic maps (all pixels, wrapped stencils); 2 to drop the pixels whose
        stencils would wrap around (non-periodic mode). ``n_pix = (N - 2 border)^2``.
    out_v0, out_v1, out_v2 : (k, nbins) float64
        Outputs.
    """
    k, n, _ = maps.shape
    nb = nu.shape[0] - 1
    stride = n + 2 * PAD
    af = np.empty(stride * stride)
    a = af.reshape((stride, stride))
    e = np.empty(2 * nb + 1)
    _merged_edges(nu, 1.0, e)
    ext = np.empty(2 * nb + 3)
    table = np.empty(n_cells_for(e), np.int64)
    w = n - 2 * border  # pixels used per row
    jrow = np.empty(w, np.int64)
    dd = np.empty(w)
    q1 = np.empty(w)
    q2 = np.empty(w)
    den_j = np.ones(2 * nb + 2)  # divisor by J; 1.0 where the pixel is in no bin
    for j in range(2 * nb + 2):
        b = (j + 1) // 2 - 1
        if 0 <= b < nb:
            den_j[j] = den[b]
    above = np.empty(nb + 1, np.int64)
    s1 = np.empty(nb + 2)  # V1, V2 sums by bin + 1, with dummy slots at both ends
    s2 = np.empty(nb + 2)
    for m in range(k):
        _merged_edges(nu, sigma[m], e)
        lo, inv = make_locator(e, ext, table)
        above[:] = 0
        s1[:] = 0.0
        s2[:] = 0.0
        wrap_pad(maps[m], PAD, a)
        for yy in range(border, n - border):
            start = (yy + PAD) * stride + border + PAD
            count_le_row(ext, lo, inv, table, af[start:start + w], jrow)
            for i in range(w):
                dd[i] = den_j[jrow[i]]
            _integrands_row(af, start, stride, dd, q1, q2)
            for i in range(w):  # row-major accumulation, as LensTools; branch-free:
                j = jrow[i]  # pixels in no bin go to the dummy slots 0 and nb + 1
                above[j >> 1] += 1
                b1 = (j + 1) >> 1  # bin + 1: t_b <= v < t_b+1
                s1[b1] += q1[i]
                s2[b1] += q2[i]
        out_v1[m] = s1[1:nb + 1]
        out_v2[m] = s2[1:nb + 1]
        # V0[i] counts pixels with v >= m_i, i.e. with #(m <= v) > i
        c = 0
        for i in range(nb - 1, -1, -1):
            c += above[i + 1]
            out_v0[m, i] = v0_table[c]
