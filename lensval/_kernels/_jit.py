"""One decorator factory for every numba kernel, so that options live in one place."""

from __future__ import annotations

import numba

_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)


def jit(*signatures, parallel: bool = False, **overrides):
    """``numba.njit`` with lensval's options.

    ``cache=True`` keeps compiled kernels between runs; ``nogil=True`` lets a Python
    thread per core run kernels concurrently; ``fastmath`` stays off because results
    must be bit-identical to the reference implementations. An override must say why
    in a comment where it is used.
    """
    opts = {**_OPTIONS, "parallel": parallel, **overrides}
    if signatures:
        return numba.njit(list(signatures), **opts)
    return numba.njit(**opts)
