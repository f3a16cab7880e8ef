"""Precomputed summary statistics of the reference ensembles.

The package ships the statistics of the simulator's ``validation`` and ``auxiliary``
splits (``cosmogan`` preset, default statistics configuration) in ``reference_stats/``.
They are verified at load: the recipe (split, n, seed, preset), a fingerprint of the
simulator's inputs and the statistics ``config_hash`` must match the installed code.
Stale files are rebuilt into the user cache (``rebuild="auto"``, the default) or refused
with a clear error (``rebuild=False``). ``lensval reference build`` regenerates them.
"""

from __future__ import annotations

import hashlib
import os
import sys
from importlib import resources
from pathlib import Path

import xarray as xr

from lensval._defaults import cache_dir
from lensval.errors import ConfigMismatchError, InputError

__all__ = ["reference_stats", "build_reference", "RECIPES", "simulator_fingerprint"]

#: How each reference set is made (the paper: ~1000 validation maps, 1000 auxiliary).
#: Independent maps (one tile per parent), like the paper's validation crops of 1000
#: different parent maps: the two-sample tests assume independent samples.
RECIPES: dict[str, dict] = {
    "validation": {"split": "validation", "n": 1000, "seed": 0, "preset": "cosmogan",
                   "tiles_per_parent": 1},
    "auxiliary": {"split": "auxiliary", "n": 1000, "seed": 0, "preset": "cosmogan",
                  "tiles_per_parent": 1},
    "development": {"split": "development", "n": 1000, "seed": 0, "preset": "cosmogan",
                    "tiles_per_parent": 1},
}
SHIPPED = ("validation", "auxiliary")


def simulator_fingerprint(preset: str = "cosmogan") -> str:
    """Hash of everything the simulator's output depends on (tables, preset, algorithm)."""
    from lensval import simulator

    p = simulator.PRESETS[preset]
    h = hashlib.sha256()
    h.update(repr(p).encode())
    h.update(str(getattr(simulator, "ALGORITHM_VERSION", "1")).encode())
    for name in sorted(resources.files("lensval.data").iterdir(), key=lambda x: x.name):
        if name.name.startswith("cl_kappa"):
            h.update(name.read_bytes())
    return h.hexdigest()[:16]


def _shipped_dir() -> Path:
    return Path(str(resources.files("lensval._reference_data")))


def _cache_dir() -> Path:
    return cache_dir("reference")


def _expected_attrs(name: str) -> dict:
    from lensval.stats import StatsConfig

    r = RECIPES[name]
    return {
        "reference_split": r["split"],
        "reference_n": r["n"],
        "reference_seed": r["seed"],
        "reference_preset": r["preset"],
        "reference_tiles_per_parent": r["tiles_per_parent"],
        "simulator_fingerprint": simulator_fingerprint(r["preset"]),
        "config_hash": StatsConfig().config_hash(),
    }


def _mismatch(ds: xr.Dataset, name: str) -> list[str]:
    want = _expected_attrs(name)
    out = []
    for k, v in want.items():
        have = ds.attrs.get(k)
        if have is None or str(have) != str(v):
            out.append(f"{k}={have!r} (expected {v!r})")
    return out


def build_reference(name: str = "validation", out_dir: str | os.PathLike | None = None, *,
                    progress: bool | None = None) -> Path:
    """Simulate and summarise reference set ``name``; write ``<out_dir>/<name>.nc``.

    ``out_dir`` defaults to the user cache. Returns the written path.
    """
    from lensval.simulator import simulate
    from lensval.stats import summarize

    if name not in RECIPES:
        raise InputError(f"unknown reference set {name!r}; choose one of {', '.join(RECIPES)}")
    r = RECIPES[name]
    maps = simulate(r["n"], split=r["split"], seed=r["seed"], preset=r["preset"],
                    tiles_per_parent=r["tiles_per_parent"], progress=progress)
    ds = summarize(maps, progress=progress)
    ds.attrs.update(_expected_attrs(name))
    ds.attrs["built_by"] = f"lensval reference build --set {name}"
    out = Path(out_dir) if out_dir is not None else _cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    enc = {v: {"zlib": True, "complevel": 4} for v in ds.data_vars}
    path = out / f"{name}.nc"
    from lensval.io import atomic_path

    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=enc)
    return path


def reference_stats(name: str = "validation", *, rebuild: str | bool = "auto",
                    progress: bool | None = None) -> xr.Dataset:
    """Summary statistics of a reference set (``validation``, ``auxiliary``, ``development``).

    Parameters
    ----------
    name : str
        Which set.
    rebuild : {"auto", True, False}
        ``"auto"``: use the shipped (or cached) file when it matches the installed code,
        else rebuild it into the user cache (a few seconds). ``True``: always rebuild.
        ``False``: raise :class:`~lensval.errors.ConfigMismatchError` when stale.

    Returns
    -------
    xarray.Dataset
        The statistics file contract of :func:`lensval.summarize`.
    """
    if name not in RECIPES:
        raise InputError(f"unknown reference set {name!r}; choose one of {', '.join(RECIPES)}")
    candidates = [_shipped_dir() / f"{name}.nc", _cache_dir() / f"{name}.nc"]
    problems = []
    if rebuild is not True:
        for path in candidates:
            if not path.exists():
                continue
            try:
                with xr.open_dataset(path, engine="h5netcdf") as ds:
                    bad = _mismatch(ds, name)
                    if not bad:
                        return ds.load()
                    problems.append(f"{path}: {'; '.join(bad)}")
            except Exception as exc:  # corrupt file: rebuild
                problems.append(f"{path}: unreadable ({type(exc).__name__})")
        if rebuild is False:
            detail = problems[0] if problems else "no file found"
            raise ConfigMismatchError(
                f"reference statistics {name!r} are missing or stale ({detail}); "
                "run `lensval reference build`"
            )
        if problems:
            print(f"lensval: reference statistics {name!r} are stale; rebuilding into "
                  f"{_cache_dir()}", file=sys.stderr)
    path = build_reference(name, _cache_dir(), progress=progress)
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
