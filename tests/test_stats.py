"""Summary statistics: kernels against independent NumPy/SciPy implementations,
invariances, the statistics-file contract, the CLI, dask, and streaming memory.

LensTools comparisons live in test_stats_lenstools.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.stats
import xarray as xr

import lensval as lv
from lensval.errors import InputError
from lensval.io import open_stats, save_dataset, save_maps
from lensval.stats import _engine

ANGLE = 0.866


def lognormal_maps(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """Correlated, skewed maps (smoothed white noise through an exponential)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, size, size))
    g = (g + np.roll(g, 1, 1) + np.roll(g, 1, 2) + np.roll(g, (1, 1), (1, 2))) / 2.0
    return 0.03 * (np.exp(0.8 * g - 0.32) - 1.0)


# --------------------------------------------------------------------------- references
def numpy_power(m, angle, edges):
    """Independent power spectrum: vectorised digitize + bincount."""
    n = m.shape[0]
    f = np.fft.rfft2(m)
    lpix = 360.0 / angle
    lx = np.abs(np.fft.fftfreq(n, 1.0 / n)) * lpix
    ly = np.arange(n // 2 + 1) * lpix
    ell = np.sqrt(lx[:, None] ** 2 + ly[None, :] ** 2)
    k = np.digitize(ell, edges, right=True) - 1
    ok = (k >= 0) & (k < len(edges) - 1)
    p2 = (f.real**2 + f.imag**2)[ok]
    hits = np.bincount(k[ok], minlength=len(edges) - 1)
    sums = np.bincount(k[ok], weights=p2, minlength=len(edges) - 1)
    norm = ((angle * np.pi / 180.0) / n**2) ** 2
    with np.errstate(invalid="ignore"):
        return np.where(hits > 0, norm * sums / hits, 0.0), hits


def numpy_minkowski(m, nu, norm=True, periodic=True):
    """Independent Minkowski functionals with np.roll stencils."""
    def sh(dy, dx):  # sh(dy, dx)[y, x] = m[y + dy, x + dx]
        return np.roll(m, (-dy, -dx), (0, 1))

    gx = (sh(0, 1) - sh(0, -1)) / 2
    gy = (sh(1, 0) - sh(-1, 0)) / 2
    hxx = (sh(0, 2) + sh(0, -2) - 2 * m) / 4
    hyy = (sh(2, 0) + sh(-2, 0) - 2 * m) / 4
    hxy = (sh(1, 1) + sh(-1, -1) - sh(1, -1) - sh(-1, 1)) / 4
    g2 = gx**2 + gy**2
    i1 = 0.25 * np.sqrt(g2)
    with np.errstate(invalid="ignore", divide="ignore"):
        i2 = np.where(g2 == 0, (2 * hxy - hxx - hyy) / (4 * np.pi),
                      (2 * gx * gy * hxy - gx**2 * hyy - gy**2 * hxx) / g2 / (2 * np.pi))
    s = m.std() if norm else 1.0
    inner = (slice(None), slice(None)) if periodic else (slice(2, -2), slice(2, -2))
    v, i1, i2 = m[inner], i1[inner], i2[inner]
    v0, v1, v2 = [], [], []
    for lo, hi in zip(nu[:-1], nu[1:], strict=True):
        v0.append(np.mean(v >= (lo + hi) * s / 2))
        sel = (v >= lo * s) & (v < hi * s)
        v1.append(i1[sel].sum() / (v.size * (hi - lo)))
        v2.append(i2[sel].sum() / (v.size * (hi - lo)))
    return np.array(v0), np.array(v1), np.array(v2)


def slow_peaks(m, edges, sigma, periodic=True):
    n = m.shape[0]
    counts = np.zeros(len(edges) - 1, np.int64)
    rng = range(n) if periodic else range(1, n - 1)
    for y in rng:
        for x in rng:
            c = m[y, x]
            if all(c > m[(y + dy) % n, (x + dx) % n]
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx):
                for i in range(len(edges) - 1):
                    if edges[i] * sigma <= c < edges[i + 1] * sigma:
                        counts[i] += 1
    return counts


# --------------------------------------------------------------------------- kernels
def test_power_spectrum_against_numpy():
    maps = lognormal_maps(3, 64)
    for edges in (np.arange(200.0, 50000.0, 200.0), np.geomspace(300, 60000, 17)):
        ps = lv.power_spectrum(maps, angle_deg=ANGLE, ell_edges=edges)
        assert ps.power.shape == (3, edges.size - 1)
        for i in range(3):
            ref, hits = numpy_power(maps[i], ANGLE, edges)
            np.testing.assert_allclose(ps.power[i], ref, rtol=1e-12, atol=0)
            np.testing.assert_array_equal(ps.n_modes, hits)
        np.testing.assert_array_equal(ps.ell, (edges[:-1] + edges[1:]) / 2)


def test_default_power_bins_empty_bins_flagged():
    ps = lv.power_spectrum(lognormal_maps(1, 256)[0], angle_deg=lv._defaults.ANGLE_DEG)
    assert ps.power.shape == (248,)
    # (200, 400] and (600, 800] hold no Fourier pixel at 0.866 deg, 256^2 (docs)
    assert ps.n_modes[0] == 0 and ps.n_modes[2] == 0 and ps.power[0] == 0.0
    assert np.all(ps.n_modes[3:] > 0)


@pytest.mark.parametrize("norm", [True, False])
@pytest.mark.parametrize("periodic", [True, False])
def test_minkowski_against_numpy(norm, periodic):
    maps = lognormal_maps(3, 48, seed=1)
    nu = np.linspace(-2.0, 1.8, 20) if norm else np.linspace(-0.03, 0.05, 17)
    mf = lv.minkowski_functionals(maps, nu_edges=nu, norm=norm, periodic=periodic)
    for i in range(3):
        for got, ref in zip((mf.V0, mf.V1, mf.V2),
                            numpy_minkowski(maps[i], nu, norm, periodic), strict=True):
            np.testing.assert_allclose(got[i], ref, rtol=1e-10, atol=1e-14)


def test_pixel_histogram_equals_numpy_histogram():
    maps = lognormal_maps(4, 32, seed=2)
    maps[0, :4, :4] = 0.02  # exactly on an edge
    maps[1, 0, 0] = 0.1  # exactly on the last edge (numpy closes it)
    edges = np.linspace(-0.02, 0.1, 13)
    h = lv.pixel_histogram(maps, kappa_edges=edges)
    for i in range(4):
        np.testing.assert_array_equal(h.counts[i], np.histogram(maps[i], edges)[0])
        assert h.under[i] == (maps[i] < edges[0]).sum()
        assert h.over[i] == (maps[i] > edges[-1]).sum()
    np.testing.assert_array_equal(h.counts.sum(1) + h.under + h.over, 32 * 32)
    # very uneven edges: many edges share a cell of the guess table (exact fallback path)
    uneven = np.concatenate([[-1.0], np.geomspace(1e-12, 1e-3, 40), [0.02, 0.03, 1e6]])
    flat = maps.ravel().copy()
    flat[:2 * uneven.size] = np.concatenate([uneven, np.nextafter(uneven, 0)])
    h = lv.pixel_histogram(flat.reshape(4, 32, 32), kappa_edges=uneven)
    np.testing.assert_array_equal(
        h.counts, [np.histogram(m, uneven)[0] for m in flat.reshape(4, 32, 32)])
    d = lv.pixel_histogram(maps)  # the documented default edges
    np.testing.assert_array_equal(d.kappa_edges, np.linspace(-0.10, 1.20, 131))


def test_pdf_equals_numpy_density():
    maps = lognormal_maps(3, 32, seed=3)
    t = np.linspace(-3.0, 3.0, 25)
    p = lv.pdf(maps, t, norm=True)
    for i in range(3):
        s = maps[i].std()
        ref = np.histogram(maps[i], t * s, density=True)[0] * s
        np.testing.assert_array_equal(p.pdf[i], ref)


@pytest.mark.parametrize("periodic", [True, False])
def test_peaks_equal_slow_loop(periodic):
    maps = lognormal_maps(2, 40, seed=4)
    maps[1] = np.round(maps[1] / 0.01) * 0.01  # plateaus: ties are not peaks
    edges = np.linspace(-2.0, 6.0, 17)
    pk = lv.peak_counts(maps, nu_edges=edges, periodic=periodic)
    for i in range(2):
        ref = slow_peaks(maps[i], edges, maps[i].std(), periodic)
        np.testing.assert_array_equal(pk.counts[i], ref)
        np.testing.assert_allclose(pk.density[i], ref / np.diff(edges), rtol=1e-13)


def test_moments_against_numpy_scipy():
    maps = lognormal_maps(5, 37, seed=5)  # odd size: pairwise-sum remainders
    mo = lv.moments(maps)
    flat = maps.reshape(5, -1)
    np.testing.assert_array_equal(mo.mean, [m.mean() for m in maps])  # bit-identical
    np.testing.assert_array_equal(mo.std, [m.std() for m in maps])
    np.testing.assert_allclose(mo.skewness, scipy.stats.skew(flat, axis=1), rtol=1e-10)
    np.testing.assert_allclose(mo.kurtosis, scipy.stats.kurtosis(flat, axis=1), rtol=1e-10)
    const = lv.moments(np.full((8, 8), 0.5))
    assert const.std == 0.0 and np.isnan(const.skewness) and np.isnan(const.kurtosis)


def test_kernel_sigma_is_numpy_std():
    assert _engine._kernel_std_matches_numpy()
    rng = np.random.default_rng(6)
    for n in (5, 8, 17, 128, 200):
        m = rng.lognormal(size=(2, n, n)) * 1e-2 - 3e-3
        np.testing.assert_array_equal(lv.moments(m).std, [x.std() for x in m])


def test_correlation_matrix_matches_corrcoef():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    np.testing.assert_allclose(lv.correlation_matrix(x), np.corrcoef(x, rowvar=False),
                               rtol=1e-14, atol=1e-15)
    x[:, 2] = 0.0  # an empty power-spectrum bin
    mask = np.array([True, True, False, True, True, True])
    c = lv.correlation_matrix(x, mask=mask)
    assert np.isnan(c[2]).all() and np.isnan(c[:, 2]).all()
    keep = np.flatnonzero(mask)
    np.testing.assert_allclose(c[np.ix_(keep, keep)], np.corrcoef(x[:, keep], rowvar=False),
                               rtol=1e-14, atol=1e-15)
    with pytest.raises(InputError):
        lv.correlation_matrix(x[:1])


def test_kernels_inside_user_parallel_njit():
    """The kernels are plain-array numba functions: a user's prange loop can call them."""
    import numba

    from lensval._kernels import histogram as kh
    from lensval._kernels import moments as km

    @numba.njit(parallel=True)
    def user(maps, edges, counts, under, over, sig):
        for i in numba.prange(maps.shape[0]):
            kh.histogram_batch(maps[i:i + 1], edges, counts[i:i + 1], under[i:i + 1],
                               over[i:i + 1])
            km.sigma_batch(maps[i:i + 1], sig[i:i + 1])

    maps = lognormal_maps(6, 16, seed=9)
    edges = np.linspace(-0.03, 0.1, 14)
    counts = np.zeros((6, 13), np.int64)
    under, over, sig = np.zeros(6, np.int64), np.zeros(6, np.int64), np.zeros(6)
    user(maps, edges, counts, under, over, sig)
    h = lv.pixel_histogram(maps, kappa_edges=edges)
    np.testing.assert_array_equal(counts, h.counts)
    np.testing.assert_array_equal(sig, [m.std() for m in maps])


# --------------------------------------------------------------------------- invariances
def _minkowski_dict(mf):
    return {"V0": mf.V0, "V1": mf.V1, "V2": mf.V2}


def _all_stats(m):
    return {
        "P": lv.power_spectrum(m, angle_deg=ANGLE).power,
        **_minkowski_dict(lv.minkowski_functionals(m)),
        "hist": lv.pixel_histogram(m).counts,
        "peaks": lv.peak_counts(m).counts,
        "moments": lv.moments(m).as_array(),
    }


def test_periodic_roll_leaves_statistics_unchanged():
    m = lognormal_maps(1, 64, seed=10)[0]
    ref = _all_stats(m)
    for shift in ((3, 0), (0, 17), (-5, 29)):
        got = _all_stats(np.roll(m, shift, (0, 1)))
        for key in ref:  # integer statistics exactly; sums to rounding (order changes)
            np.testing.assert_allclose(got[key], ref[key], rtol=1e-12, atol=1e-22,
                                       err_msg=key)
        for key in ("V0", "hist", "peaks"):
            np.testing.assert_array_equal(got[key], ref[key])


def test_transpose_leaves_minkowski_and_power_unchanged():
    """V0..V2 are transpose-invariant. P is, on every bin without pixels on the
    ``lx = 0``/``ly = 0`` axes or the Nyquist lines: the rfft half plane (LensTools)
    holds both members of the conjugate pairs on ``ly = 0`` and ``ly = N/2`` but one of
    those on ``lx = 0`` and ``lx = N/2``, so those bins weight the two axes differently."""
    n = 64
    m = lognormal_maps(1, n, seed=11)[0]
    ref, got = _all_stats(m), _all_stats(m.T.copy())
    for key in ("V0", "V1", "V2"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-12, atol=1e-22, err_msg=key)
    np.testing.assert_array_equal(got["V0"], ref["V0"])
    bins, counts = _engine.ell_table(n, ANGLE, tuple(lv.StatsConfig().ell_edges))
    special = np.zeros(bins.shape, bool)
    special[[0, n // 2], :] = True
    special[:, [0, n // 2]] = True
    generic = np.setdiff1d(np.flatnonzero(counts[0]), bins[special & (bins >= 0)])
    assert generic.size > 20
    np.testing.assert_allclose(got["P"][generic], ref["P"][generic], rtol=1e-12)
    # and P is exactly invariant under the point reflection k -> -k (x -> -x, y -> -y)
    flip = _all_stats(np.roll(m[::-1, ::-1], 1, (0, 1)))
    np.testing.assert_allclose(flip["P"], ref["P"], rtol=1e-12, atol=0)


def test_float32_input_gives_float64_result_of_cast():
    m32 = lognormal_maps(4, 32, seed=12).astype(np.float32)
    a = lv.summarize(m32, angle_deg=ANGLE)
    b = lv.summarize(m32.astype(np.float64), angle_deg=ANGLE)
    xr.testing.assert_identical(a, b)
    assert a.power.dtype == np.float64


def test_chunk_and_thread_count_do_not_change_any_bit(monkeypatch):
    maps = lognormal_maps(11, 32, seed=13)
    ref = lv.summarize(maps, angle_deg=ANGLE, chunk_size=11)
    for chunk in (1, 4, 7):
        xr.testing.assert_identical(lv.summarize(maps, angle_deg=ANGLE, chunk_size=chunk), ref)
    monkeypatch.setattr(_engine, "n_threads", lambda: 1)
    xr.testing.assert_identical(lv.summarize(maps, angle_deg=ANGLE, chunk_size=5), ref)
    # each map alone through the wrappers: the same bits as the batch
    single = lv.power_spectrum(maps[3], angle_deg=ANGLE).power
    np.testing.assert_array_equal(single, ref.power[3])


# --------------------------------------------------------------------------- contract
def test_summarize_dataset_contract(tmp_path):
    maps = lognormal_maps(5, 32, seed=14)
    da = xr.DataArray(maps, dims=("sample", "y", "x"), name="kappa",
                      coords={"sample": np.arange(100, 105)}, attrs={"angle_deg": ANGLE})
    ds = lv.summarize(da)
    assert ds.power.dims == ("sample", "ell") and ds.power.shape == (5, 248)
    assert ds.minkowski.dims == ("sample", "functional", "nu")
    assert list(ds.functional.values) == ["V0", "V1", "V2"]
    assert ds.minkowski.shape == (5, 3, 19) and ds.minkowski.attrs["nu_units"] == "sigma"
    assert ds.pixel_hist.dims == ("sample", "kappa_bin") and ds.pixel_hist.dtype == np.int64
    assert ds.peaks.dims == ("sample", "nu_peak")
    assert list(ds.moment.values) == ["mean", "std", "skewness", "kurtosis"]
    for c in ("ell_lo", "ell_hi", "n_modes", "nu_lo", "nu_hi", "kappa_lo", "kappa_hi"):
        assert c in ds.coords
    np.testing.assert_array_equal(ds["sample"], np.arange(100, 105))
    np.testing.assert_array_equal(ds.pixel_hist.sum("kappa_bin") + ds.pixel_under
                                  + ds.pixel_over, 32 * 32)
    assert ds.attrs["angle_deg"] == ANGLE and ds.attrs["map_size"] == 32
    assert ds.attrs["lensval_version"] == lv.__version__
    assert ds.attrs["config_hash"] == lv.StatsConfig().config_hash()
    # the numbers are the wrappers' numbers
    mf = lv.minkowski_functionals(maps)
    np.testing.assert_array_equal(ds.minkowski.sel(functional="V2"), mf.V2)
    np.testing.assert_array_equal(ds.peaks, lv.peak_counts(maps).counts)
    # round trip through a file, config rebuilt from attrs
    path = tmp_path / "stats.nc"
    save_dataset(ds, path)
    back = open_stats(path)
    xr.testing.assert_allclose(back.load(), ds)
    assert lv.StatsConfig.from_attrs(back.attrs) == lv.StatsConfig()
    kappa = lv.summarize(da, norm=False, nu_edges=np.linspace(-0.03, 0.05, 9))
    assert kappa.minkowski.attrs["nu_units"] == "kappa" and kappa.sizes["nu"] == 8
    assert kappa.attrs["config_hash"] != ds.attrs["config_hash"]


def test_stats_config_hash_and_validation():
    base = lv.StatsConfig()
    assert base == lv.StatsConfig(ell_edges=list(np.arange(200.0, 50000.0, 200.0)))
    changed = [base.replace(norm=False), base.replace(periodic=False),
               base.replace(nu_edges=np.linspace(-2.0, 1.8, 20) + 1e-16),
               base.replace(kappa_edges=np.linspace(-0.1, 1.2, 66)),
               base.replace(peak_nu_edges=[0.0, 1.0]),
               base.replace(ell_edges=np.arange(200.0, 50000.0, 400.0))]
    hashes = {c.config_hash() for c in changed} | {base.config_hash()}
    assert len(hashes) == len(changed) + 1
    assert lv.StatsConfig.from_attrs(changed[2].to_attrs()) == changed[2]
    for bad in (dict(nu_edges=[1.0, 0.0]), dict(ell_edges=[1.0]),
                dict(kappa_edges=[0.0, np.nan]), dict(norm="yes"), dict(dtype="float32")):
        with pytest.raises(InputError):
            lv.StatsConfig(**bad)
    with pytest.raises(InputError, match="unknown statistics option"):
        base.replace(bins=3)
    attrs = base.to_attrs()
    attrs["stats_norm"] = 0
    with pytest.raises(InputError, match="config_hash"):
        lv.StatsConfig.from_attrs(attrs)


def test_bad_input_one_line_errors():
    m = lognormal_maps(3, 16)
    m[2, 3, 4] = np.nan
    for call in (lambda: lv.summarize(m, angle_deg=ANGLE),
                 lambda: lv.minkowski_functionals(m)):
        with pytest.raises(InputError, match="sample 2") as e:
            call()
        assert "\n" not in str(e.value)
    many = lognormal_maps(12, 16)
    many[9] = np.nan
    many[5, 0, 0] = -np.inf
    for chunk in (1, 4, 12):  # the first bad sample wins, whatever the chunking
        with pytest.raises(InputError, match="first in sample 5"):
            lv.summarize(many, angle_deg=ANGLE, chunk_size=chunk)
    with pytest.raises(InputError, match="angle_deg"):
        lv.summarize(lognormal_maps(2, 16))
    with pytest.raises(InputError, match="angle_deg"):
        lv.power_spectrum(lognormal_maps(2, 16))
    with pytest.raises(InputError, match="square"):
        lv.minkowski_functionals(np.zeros((2, 16, 17)))
    with pytest.raises(InputError, match="increasing"):
        lv.peak_counts(lognormal_maps(1, 16), nu_edges=[1.0, 1.0])
    with pytest.raises(InputError, match="chunk_size"):
        lv.summarize(lognormal_maps(2, 16), angle_deg=ANGLE, chunk_size=0)


# --------------------------------------------------------------------------- CLI
def test_cli_summarize(tmp_path):
    from click.testing import CliRunner

    from lensval.cli import main

    maps = lognormal_maps(6, 32, seed=15).astype(np.float32)
    save_maps(maps, tmp_path / "maps.nc", angle_deg=ANGLE)
    np.save(tmp_path / "maps.npy", maps)
    runner = CliRunner()
    res = runner.invoke(main, ["summarize", str(tmp_path / "maps.nc"), "-o",
                               str(tmp_path / "s.nc"), "--chunk-size", "4"])
    assert res.exit_code == 0, res.output
    ds = open_stats(tmp_path / "s.nc").load()
    xr.testing.assert_identical(ds, lv.summarize(maps, angle_deg=ANGLE)
                               .assign_attrs(source_file=str(tmp_path / "maps.nc")))
    res = runner.invoke(main, ["summarize", str(tmp_path / "maps.npy"), "-o",
                               str(tmp_path / "n.nc"), "--angle-deg", str(ANGLE), "--no-norm",
                               "--nu-edges", "-0.03:0.05:9"])
    assert res.exit_code == 0, res.output
    assert open_stats(tmp_path / "n.nc").minkowski.attrs["nu_units"] == "kappa"
    # one-line errors, exit 2, no output left behind
    for args in (["summarize", str(tmp_path / "maps.npy"), "-o", str(tmp_path / "x.nc")],
                 ["summarize", str(tmp_path / "maps.nc"), "-o", str(tmp_path / "x.nc"),
                  "--nu-edges", "1,0"],
                 ["summarize", str(tmp_path / "missing.nc"), "-o", str(tmp_path / "x.nc")]):
        res = runner.invoke(main, args)
        assert res.exit_code == 2, res.output
        assert res.output.strip().count("\n") == 0 and res.output.startswith("Error:")
        assert not (tmp_path / "x.nc").exists()
    assert not list(tmp_path.glob("*.part"))


# --------------------------------------------------------------------------- dask
@pytest.mark.dask
def test_dask_distributed_identical():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    maps = lognormal_maps(10, 32, seed=16)
    ref = lv.summarize(maps, angle_deg=ANGLE)
    da = xr.DataArray(maps, dims=("sample", "y", "x"), name="kappa",
                      attrs={"angle_deg": ANGLE}).chunk({"sample": 3, "y": 16})
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        ds = lv.summarize(da)
    xr.testing.assert_identical(ds, ref)


# --------------------------------------------------------------------------- memory
@pytest.mark.slow
def test_cli_summarize_6400_maps_bounded_memory(tmp_path):
    """6400 float32 256^2 maps (1.7 GB on disk): the CLI's peak RSS stays < 1.5 GB."""
    from lensval.io import MapWriter

    path = tmp_path / "big.nc"
    rng = np.random.default_rng(17)
    block = rng.normal(0.0, 0.02, (320, 256, 256)).astype(np.float32)
    with MapWriter(path, n=6400, map_size=256, angle_deg=ANGLE) as w:
        for i in range(20):  # cheap: the same noise, shifted per block
            w.write(np.roll(block, i, axis=2))
    # the child reports its own peak RSS (RUSAGE_CHILDREN would include every earlier
    # child process of this pytest run)
    script = textwrap.dedent(f"""
        import resource, sys
        from lensval.cli import main
        sys.argv = ["lensval", "-q", "summarize", {str(path)!r}, "-o", {str(tmp_path / "s.nc")!r}]
        try:
            main()
        except SystemExit as e:
            assert e.code in (0, None), e.code
        # VmHWM: peak RSS of this process image; ru_maxrss would keep the high-water
        # mark of the (large) pytest parent across fork + exec
        with open("/proc/self/status") as f:
            hwm = [l for l in f if l.startswith("VmHWM:")]
        print("PEAK_KIB", hwm[0].split()[1] if hwm else
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    out = subprocess.run([sys.executable, "-c", script], check=True, timeout=600,
                         capture_output=True, text=True).stdout
    peak_kib = int(out.split("PEAK_KIB")[-1].split()[0])
    assert peak_kib < 1.5 * 1024**2, f"peak RSS {peak_kib / 1024:.0f} MiB"
    ds = open_stats(tmp_path / "s.nc")
    assert ds.sizes["sample"] == 6400 and int(ds.pixel_hist[6399].sum()
                                             + ds.pixel_under[6399] + ds.pixel_over[6399]) \
        == 256 * 256
