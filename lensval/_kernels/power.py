"""Azimuthally binned power spectrum of real 2-d FFTs (LensTools ``rfft2_azimuthal``).

LensTools tests every bin for every Fourier pixel; here the bin of each pixel is looked
up in a precomputed table (``bins``, -1 outside all bins), so one pass over the
half-plane suffices. Pixels are visited in LensTools' row-major order, so every bin's
sum sees the same additions in the same order: the result is bit-identical.
"""

from __future__ import annotations

from lensval._kernels._jit import jit


@jit()
def binned_power(ft, bins, hits, norm, out):
    """Bin ``|F|^2`` of each map.

    Parameters
    ----------
    ft : (k, N, N//2+1) complex128
        ``rfft2`` of each map.
    bins : (N, N//2+1) int32
        Bin index of each Fourier pixel, -1 when it lies in no bin.
    hits : (nbins,) int64
        Fourier pixels per bin (``(bins == b).sum()``).
    norm : float
        ``((angle_deg * pi / 180) / N**2) ** 2``.
    out : (k, nbins) float64
        Filled with ``norm * sum / hits`` (0 where ``hits == 0``).
    """
    nrow, ncol = bins.shape
    nbins = hits.shape[0]
    for m in range(ft.shape[0]):
        acc = out[m]
        for b in range(nbins):
            acc[b] = 0.0
        f = ft[m]
        for i in range(nrow):
            for j in range(ncol):
                b = bins[i, j]
                if b >= 0:
                    z = f[i, j]
                    acc[b] += z.real * z.real + z.imag * z.imag
        for b in range(nbins):
            if hits[b] > 0:
                acc[b] = norm * acc[b] / hits[b]
