"""Numba kernels only: plain arrays in and out; no xarray, no I/O, no printing.

Public wrappers live in :mod:`lensval.stats`, :mod:`lensval.gof` and
:mod:`lensval.novelty`; nothing here is public API.
"""
