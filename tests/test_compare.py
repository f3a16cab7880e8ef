"""lensval.compare on simulator ensembles: null, negative and scaled-power controls;
configuration checks; reproducibility; CLI; report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import lensval as lv
from lensval.cli import main
from lensval.errors import ConfigMismatchError

N = 128  # independent maps per set: small, but every control below is decided by a wide margin


@pytest.fixture(scope="module")
def sets():
    out = {}
    for name, split, preset in (("val", "validation", "cosmogan"), ("aux", "auxiliary", "cosmogan"),
                                ("dev", "development", "cosmogan"),
                                ("gauss", "development", "gaussian")):
        maps = lv.simulate(N, split=split, seed=11, preset=preset, tiles_per_parent=1)
        out[name] = maps
        out[name + "_stats"] = lv.summarize(maps)
    return out


def test_null_pair_agrees_everywhere(sets):
    res = lv.compare(sets["val_stats"], sets["aux_stats"], aux=sets["dev_stats"],
                     n_resamples=199, rng=1)
    assert res.agree, res.table()
    assert set(res.families) == set(lv.comparison.FAMILIES)
    for f in res.families.values():
        assert 0 < f.family_pvalue <= 1


def test_gaussian_control_pixel_and_minkowski_disagree(sets):
    """Same spectrum, Gaussian field: the mean spectrum agrees; the pixel distribution and
    the Minkowski functionals do not (nor do the per-map power distributions, whose
    scatter lacks the lognormal field's non-Gaussian covariance)."""
    res = lv.compare(sets["val_stats"], sets["gauss_stats"], n_resamples=199, rng=2)
    v = res.verdicts
    assert v["power_mean"] == "agree", res.table()
    assert v["pixel"] == "disagree"
    assert "disagree" in {v["minkowski_V0"], v["minkowski_V1"], v["minkowski_V2"]}
    assert v["minkowski_V0"] == "disagree"


def test_scaled_power_disagrees(sets):
    scaled = sets["aux"] * np.sqrt(1.1)  # P -> 1.1 P
    scaled.attrs = sets["aux"].attrs
    res = lv.compare(sets["val_stats"], scaled, n_resamples=199, rng=3,
                     families=("power", "power_mean"))
    assert res.verdicts == {"power": "disagree", "power_mean": "disagree"}, res.table()


def test_reproducible_and_batch_independent(sets):
    kw = dict(n_resamples=99, rng=5, families=("power", "minkowski_V1"))
    r1 = lv.compare(sets["val_stats"], sets["aux_stats"], **kw)
    r2 = lv.compare(sets["val_stats"], sets["aux_stats"], batch=7, **kw)
    for fam in r1.families:
        for t in r1.families[fam].pvalue:
            np.testing.assert_array_equal(r1.families[fam].pvalue[t], r2.families[fam].pvalue[t])
        assert r1.families[fam].family_pvalue == r2.families[fam].family_pvalue


def test_permutation_pvalues_match_scipy_on_one_column(sets):
    """The per-column p-value is the permutation p-value of scipy's statistic."""
    from scipy import stats

    res = lv.compare(sets["val_stats"], sets["aux_stats"], n_resamples=99, rng=8,
                     families=("power",), tests=("ks",))
    fam = res.families["power"]
    a = np.asarray(sets["val_stats"]["power"])[:, np.asarray(sets["val_stats"]["n_modes"]) > 0]
    b = np.asarray(sets["aux_stats"]["power"])[:, np.asarray(sets["aux_stats"]["n_modes"]) > 0]
    for j in (0, 57):
        d = stats.ks_2samp(a[:, j], b[:, j]).statistic
        np.testing.assert_allclose(fam.statistic["ks"][j], d, rtol=1e-12)


def test_config_mismatch_named(sets):
    other = lv.summarize(sets["aux"][:16], nu_edges=np.linspace(-1.5, 1.5, 11))
    with pytest.raises(ConfigMismatchError, match="nu_edges"):
        lv.compare(sets["val_stats"], other)
    geo = sets["val_stats"].copy()
    geo.attrs["angle_deg"] = 2.0
    with pytest.raises(ConfigMismatchError, match="angle_deg"):
        lv.compare(geo, sets["aux_stats"])


def test_methods_and_outputs(sets, tmp_path):
    for method in ("bootstrap", "asymptotic"):
        res = lv.compare(sets["val_stats"], sets["aux_stats"], method=method, n_resamples=50,
                         rng=4, families=("power", "pixel"))
        d = res.to_dict()
        assert d["method"] == method and set(d["families"]) == {"power", "pixel"}
        if method == "bootstrap":
            f = res.families["power"]
            assert np.all(f.pvalue_p05["ks"] <= f.pvalue["ks"] + 1e-15)
    path = res.to_netcdf(tmp_path / "cmp.nc")
    ds = xr.open_dataset(path, engine="h5netcdf")
    assert "power_ks_pvalue" in ds and ds.attrs["method"] == "asymptotic"
    ds.close()


def test_cli_compare_json_and_report(sets, tmp_path):
    lv.save_maps(sets["val"][:64], tmp_path / "a.nc")
    np.save(tmp_path / "b.npy", sets["gauss"].values[:64])
    rep = tmp_path / "rep"
    r = CliRunner().invoke(main, ["-q", "compare", str(tmp_path / "a.nc"), str(tmp_path / "b.npy"),
                                  "--n-resamples", "199", "--json", "--report", str(rep)],
                           env={"LENSVAL_CACHE_DIR": str(tmp_path / "cache")})
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["verdicts"]["pixel"] == "disagree"  # the verdict is data: exit status 0
    for f in ("index.html", "pixel_intensity.png", "power_spectrum.png", "minkowski.png",
              "correlation.png", "pvalues.png", "result.json"):
        assert (rep / f).is_file()
    # the statistics of the map file were cached under content hash + config
    assert list((tmp_path / "cache" / "stats").glob("*.nc"))


def test_too_few_resamples_warns(sets):
    with pytest.warns(UserWarning, match="cannot disagree"):
        lv.compare(sets["val_stats"], sets["aux_stats"], n_resamples=20, rng=0,
                   families=("power_mean",) * 1 + ("peaks", "pixel"))


def test_cli_compare_bad_input(tmp_path):
    (tmp_path / "bad.nc").write_bytes(b"garbage")
    r = CliRunner().invoke(main, ["compare", str(tmp_path / "bad.nc"), str(tmp_path / "bad.nc"),
                                  "-o", str(tmp_path / "out.nc")])
    assert r.exit_code == 2 and "cannot read" in r.output
    assert not (tmp_path / "out.nc").exists()


def test_family_rule_calibrated_and_powerful():
    """The Westfall-Young max-T family p-value is uniform-ish under the null (its rate of
    p <= 0.05 stays within binomial bounds over many null data sets with correlated
    columns) and still detects a shift confined to one column out of 30."""
    from lensval.comparison import _Columns, _mean_family, _test_family

    rng = np.random.default_rng(2024)
    k, n, trials = 30, 40, 150
    mix = rng.normal(size=(k, k)) / np.sqrt(k) + np.eye(k)  # correlated columns
    fam_p, mean_p = [], []
    for i in range(trials):
        x = rng.standard_t(4, size=(2 * n, k)) @ mix
        cols = _Columns(x[:n], x[n:], [str(j) for j in range(k)], np.arange(k), "j")
        fam_p.append(_test_family(cols, "permutation", 99, np.random.default_rng(i), None,
                                  ("ks", "ad"))[3])
        mean_p.append(_mean_family(cols, 99, np.random.default_rng(i), None)[2])
    for p in (np.array(fam_p), np.array(mean_p)):
        # P(p <= 0.05) <= 0.05 for a valid test; 14 of 150 is the 0.5% upper binomial tail
        assert np.count_nonzero(p <= 0.05) <= 14, np.sort(p)[:10]
        assert np.count_nonzero(p <= 0.5) >= 50  # not degenerate at 1 either
    x = rng.normal(size=(2 * n, k))
    x[n:, 7] += 1.5
    cols = _Columns(x[:n], x[n:], [str(j) for j in range(k)], np.arange(k), "j")
    assert _test_family(cols, "permutation", 199, np.random.default_rng(0), None,
                        ("ks", "ad"))[3] <= 0.01
    assert _mean_family(cols, 199, np.random.default_rng(0), None)[2] <= 0.01
