"""Map ensembles: the data model, NetCDF/npy/npz/FITS readers, atomic writes, input checks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import lensval as lv
from lensval.errors import InputError
from lensval.io import MapWriter, iter_chunks


@pytest.fixture
def maps():
    rng = np.random.default_rng(7)
    return rng.normal(0.0, 0.04, size=(6, 32, 32)).astype(np.float32)


def test_import_is_light():
    code = (
        "import sys, lensval; lensval.__version__; "
        "heavy = [m for m in ('torch', 'ROOT', 'dask', 'numba', 'lensval_dcgan') "
        "if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_netcdf_round_trip_identical(maps, tmp_path):
    da = lv.as_maps(maps, angle_deg=0.5)
    da.attrs.update(source="test", seed=3)
    path = lv.save_maps(da, tmp_path / "m.nc", chunk_size=4)
    back = lv.open_maps(path)
    assert back.dtype == np.float32
    xr.testing.assert_identical(back.load(), da)


def test_map_writer_is_atomic(tmp_path):
    target = tmp_path / "out.nc"
    with pytest.raises(RuntimeError), MapWriter(target, n=4, map_size=16, angle_deg=1.0) as w:
        w.write(np.zeros((2, 16, 16)))
        raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="only 2 of 4"), \
            MapWriter(target, n=4, map_size=16, angle_deg=1.0) as w:
        w.write(np.zeros((2, 16, 16)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("layout", ["nmm", "n1mm"])
def test_npy_layouts_memory_mapped(maps, tmp_path, layout):
    arr = maps if layout == "nmm" else maps[:, None]
    np.save(tmp_path / "m.npy", arr)
    da = lv.open_maps(tmp_path / "m.npy", angle_deg=0.866)
    assert da.dims == ("sample", "y", "x") and da.shape == maps.shape
    assert isinstance(da.variable._data, np.memmap) or not isinstance(
        da.variable._data, np.ndarray) or da.variable._data.base is not None
    np.testing.assert_array_equal(da.values, maps)


def test_npz(maps, tmp_path):
    np.savez(tmp_path / "m.npz", kappa=maps)
    np.testing.assert_array_equal(lv.open_maps(tmp_path / "m.npz", angle_deg=1).values, maps)


def test_fits_with_angle_header(maps, tmp_path):
    fits = pytest.importorskip("astropy.io.fits")
    hdu = fits.PrimaryHDU(maps[0].astype(np.float64))
    hdu.header["ANGLE"] = 3.5
    hdu.writeto(tmp_path / "m.fits")
    da = lv.open_maps(tmp_path / "m.fits")
    assert da.shape == (1, 32, 32) and da.attrs["angle_deg"] == 3.5


def test_chunks_checked_with_sample_index(maps):
    bad = maps.copy()
    bad[4, 3, 3] = np.nan
    bad[5, 0, :2] = np.inf
    da = lv.as_maps(bad, angle_deg=1.0, check=False)
    with pytest.raises(InputError, match=r"3 NaN/inf pixel\(s\), first in sample 4"):
        lv.as_maps(bad, angle_deg=1.0)
    with pytest.raises(InputError, match="first in sample 4"):
        for _ in iter_chunks(da, 2):
            pass


@pytest.mark.parametrize(
    "arr, angle, message",
    [
        (np.zeros((3, 16, 20)), 1.0, "not square"),
        (np.zeros((16, 16)), 1.0, "single 16x16 map"),
        (np.zeros((0, 16, 16)), 1.0, "empty ensemble"),
        (np.zeros((3, 16, 16)), None, "angle_deg"),
        (np.zeros((3, 16, 16)), -1.0, "positive"),
        (np.zeros((3, 16, 16)), float("nan"), "positive"),
        (np.zeros((2, 3, 16, 16)), 1.0, "expected maps of shape"),
    ],
)
def test_bad_arrays(arr, angle, message):
    with pytest.raises(InputError, match=message):
        lv.as_maps(arr, angle_deg=angle)


def test_ragged_input():
    ragged = [np.zeros((16, 16)), np.zeros((8, 8))]
    with pytest.raises(InputError, match="ragged"):
        lv.as_maps(np.array(ragged, dtype=object), angle_deg=1.0)


def test_truncated_and_garbage_files(maps, tmp_path):
    good = lv.save_maps(maps, tmp_path / "good.nc", angle_deg=1.0)
    data = good.read_bytes()
    (tmp_path / "trunc.nc").write_bytes(data[: len(data) // 3])
    (tmp_path / "junk.nc").write_bytes(b"this is not netcdf" * 10)
    np.save(tmp_path / "good.npy", maps)
    npy = (tmp_path / "good.npy").read_bytes()
    (tmp_path / "trunc.npy").write_bytes(npy[: len(npy) // 2])
    for name in ("trunc.nc", "junk.nc"):
        with pytest.raises(InputError, match="cannot read"):
            _ = lv.open_maps(tmp_path / name).values
    with pytest.raises(InputError, match="cannot read"):
        lv.open_maps(tmp_path / "trunc.npy", angle_deg=1.0)
    with pytest.raises(InputError, match="does not exist"):
        lv.open_maps(tmp_path / "missing.nc")


def test_stats_file_is_not_maps(tmp_path):
    xr.Dataset({"power": (("sample", "ell"), np.ones((2, 3)))}).to_netcdf(
        tmp_path / "s.nc", engine="h5netcdf")
    with pytest.raises(InputError, match="statistics file"):
        lv.open_maps(tmp_path / "s.nc")


def test_cli_version_and_help():
    from lensval.cli import main

    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0 and "simulate" in res.output
    res = CliRunner().invoke(main, ["--version"])
    assert lv.__version__ in res.output
