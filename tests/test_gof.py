"""Two-sample tests (lensval.gof) against SciPy, ROOT and brute-force resampling loops."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import special, stats

import lensval as lv
from lensval.errors import InputError

EPS100 = 100 * np.finfo(np.float64).eps


def _samples(rng, n_a, n_b, kind, n_cols=3, shift=0.1):
    a = rng.normal(size=(n_a, n_cols))
    b = rng.normal(shift, 1.0, size=(n_b, n_cols))
    if kind == "ties":  # a few dozen distinct values
        a, b = np.round(a * 4), np.round(b * 4)
    elif kind == "heavy":  # three distinct values
        a, b = np.clip(np.round(a), -1, 1), np.clip(np.round(b), -1, 1)
    elif kind == "identical":
        b = a[: min(n_a, n_b)].copy()
    return a, b


def _scipy_ad(x, y):
    """SciPy's right-continuous AD (statistic, p-value), its cap warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = stats.anderson_ksamp([x, y], variant="right")
    return res.statistic, res.pvalue


def _scipy_a2kn(x, y):
    """Raw A2kN: the statistic SciPy's anderson_ksamp(method=PermutationMethod) permutes."""
    from scipy.stats._morestats import _anderson_ksamp_right

    z = np.sort(np.concatenate([x, y]))
    return _anderson_ksamp_right([x, y], z, np.unique(z), 2, np.array([x.size, y.size]), z.size)


KS_CASES = [
    (1, 1, "cont"),
    (1, 7, "cont"),
    (5, 3, "ties"),
    (40, 60, "heavy"),
    (200, 120, "ties"),
    (300, 300, "identical"),
    (640, 100, "cont"),
    (1000, 1000, "ties"),
    (10000, 13, "cont"),
    (3000, 10000, "heavy"),
]


@pytest.mark.parametrize("method", ["auto", "asymp"])
@pytest.mark.parametrize(("n_a", "n_b", "kind"), KS_CASES)
def test_ks_matches_scipy(n_a, n_b, kind, method):
    a, b = _samples(np.random.default_rng(n_a * 7 + n_b), n_a, n_b, kind)
    res = lv.ks_2samp(a, b, method=method)
    for c in range(a.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # asymp at n_a = n_b = 1: NaN
            ref = stats.ks_2samp(a[:, c], b[:, c], method=method)
        assert abs(res.statistic[c] - ref.statistic) <= 1e-12
        assert_allclose(res.pvalue[c], ref.pvalue, rtol=0, atol=1e-9, equal_nan=True)
        assert res.statistic_sign[c] == ref.statistic_sign
        assert res.statistic_location[c] == ref.statistic_location


def test_ks_exact_method_and_identical_samples():
    rng = np.random.default_rng(11)
    a = rng.normal(size=(25, 4))
    res = lv.ks_2samp(a, a.copy(), method="exact")
    assert_array_equal(res.statistic, 0.0)
    assert_array_equal(res.pvalue, 1.0)
    b = rng.normal(size=(18, 4)) + 0.5
    res = lv.ks_2samp(a, b, method="exact")
    ref = [stats.ks_2samp(a[:, c], b[:, c], method="exact") for c in range(4)]
    assert_allclose(res.statistic, [r.statistic for r in ref], rtol=0, atol=1e-12)
    assert_allclose(res.pvalue, [r.pvalue for r in ref], rtol=0, atol=1e-9)
    assert res.method == "exact"


def test_ks_root_mode_is_kolmogorov():
    a, b = _samples(np.random.default_rng(2), 300, 200, "cont")
    res = lv.ks_2samp(a, b, mode="root")
    d = np.array([stats.ks_2samp(a[:, c], b[:, c]).statistic for c in range(3)])
    assert_allclose(res.pvalue, special.kolmogorov(np.sqrt(300 * 200 / 500) * d), rtol=1e-12)


@pytest.mark.parametrize(
    ("n_a", "n_b", "kind"),
    [(3, 2, "cont"), (12, 30, "heavy"), (50, 70, "cont"), (400, 250, "ties"), (6400, 1000, "cont")],
)
def test_ad_matches_scipy(n_a, n_b, kind):
    a, b = _samples(np.random.default_rng(n_a + 3 * n_b), n_a, n_b, kind, shift=0.3)
    res = lv.anderson_ksamp(a, b)
    for c in range(a.shape[1]):
        t, p = _scipy_ad(a[:, c], b[:, c])
        assert_allclose(res.statistic[c], t, rtol=1e-9)
        assert abs(res.pvalue[c] - p) <= 1e-9
        assert_allclose(res.A2[c], _scipy_a2kn(a[:, c], b[:, c]), rtol=1e-12)
        assert res.capped[c] == (p in (0.25, 0.001))


@pytest.mark.root
@pytest.mark.parametrize(
    ("n_a", "n_b", "kind"),
    [(5, 3, "cont"), (60, 45, "ties"), (1500, 499, "cont"), (1500, 500, "cont"),
     (6400, 1000, "cont"), (3000, 2500, "ties")],
)  # fmt: skip
def test_root_variants_match_root(root, n_a, n_b, kind):
    """variant="root" vs ROOT::Math::GoFTest; mode="root" vs TMath::KolmogorovTest."""
    a, b = _samples(np.random.default_rng(n_a - n_b), n_a, n_b, kind, shift=0.05)
    ad = lv.anderson_ksamp(a, b, variant="root")
    ks = lv.ks_2samp(a, b, mode="root")
    exact = lv.anderson_ksamp(a, b, variant="exact")
    for c in range(a.shape[1]):
        x, y = np.ascontiguousarray(a[:, c]), np.ascontiguousarray(b[:, c])
        gof = root.Math.GoFTest(n_a, x, n_b, y)
        assert_allclose(ad.statistic[c], gof.AndersonDarling2SamplesTest("t"), rtol=1e-9)
        assert_allclose(ad.pvalue[c], gof.AndersonDarling2SamplesTest("p"), rtol=1e-9)
        # TMath::KolmogorovProb truncates its series: agreement ~1e-9, not to the last bit
        p_root = root.TMath.KolmogorovTest(n_a, np.sort(x), n_b, np.sort(y), "")
        assert abs(ks.pvalue[c] - p_root) <= 2e-9
    # the two standardisations share A2 and differ only in sigma_N, for N >= 2000 only
    assert_allclose(ad.A2, exact.A2, rtol=0)
    if n_a + n_b >= 2000:
        assert 0.005 < abs(ad.sigma / exact.sigma - 1) < 0.06
    else:
        assert_allclose(ad.sigma, exact.sigma, rtol=1e-12)


def _brute_permutation(a, b, n_resamples, seed):
    """SciPy's statistics on each permutation, counted with permutation_test's rule."""
    gen = np.random.default_rng(seed)
    pooled = np.concatenate([a, b])
    n_a, n_cols = a.shape
    d_obs = np.array([stats.ks_2samp(a[:, c], b[:, c]).statistic for c in range(n_cols)])
    a_obs = np.array([_scipy_a2kn(a[:, c], b[:, c]) for c in range(n_cols)])
    count_ks = np.zeros(n_cols)
    count_ad = np.zeros(n_cols)
    for _ in range(n_resamples):
        perm = gen.permutation(pooled.shape[0])
        x, y = pooled[perm[:n_a]], pooled[perm[n_a:]]
        for c in range(n_cols):
            count_ks[c] += stats.ks_2samp(x[:, c], y[:, c]).statistic >= d_obs[c] * (1 - EPS100)
            count_ad[c] += _scipy_a2kn(x[:, c], y[:, c]) >= a_obs[c] - EPS100 * abs(a_obs[c])
    return (count_ks + 1) / (n_resamples + 1), (count_ad + 1) / (n_resamples + 1)


@pytest.mark.parametrize(
    ("n_a", "n_b", "kind"), [(13, 8, "cont"), (9, 15, "ties"), (20, 6, "heavy"), (90, 300, "cont")]
)
def test_permutation_equals_brute_force(n_a, n_b, kind):
    """Small cases (many exact ties between permutations: the dense recheck decides) and a
    larger one (the O(min(n_a, n_b)) path decides)."""
    a, b = _samples(np.random.default_rng(n_a * n_b), n_a, n_b, kind, n_cols=4, shift=0.15)
    res = lv.permutation_test(a, b, n_resamples=150, rng=42)
    p_ks, p_ad = _brute_permutation(a, b, 150, 42)
    assert 0.05 < p_ad.max() and p_ks.min() < 0.95  # not all trivially 1/(B+1) or 1
    assert_array_equal(res["ks"].pvalue, p_ks)
    assert_array_equal(res["ad"].pvalue, p_ad)
    assert_allclose(res["ks"].statistic, [stats.ks_2samp(a[:, c], b[:, c]).statistic
                                          for c in range(4)], atol=1e-15)  # fmt: skip
    assert_allclose(res["ad"].statistic, lv.anderson_ksamp(a, b).statistic, rtol=1e-15)
    assert res["ad"].null_distribution.shape == (150, 4)


def test_permutation_calibrated_under_null():
    """Null p-values of 3000 independent columns: AD uniform, KS never anti-conservative."""
    rng = np.random.default_rng(2024)
    n_cols = 3000
    a, b = rng.normal(size=(40, n_cols)), rng.normal(size=(25, n_cols))
    res = lv.permutation_test(a, b, n_resamples=199, rng=7)
    p_ad, p_ks = res["ad"].pvalue, res["ks"].pvalue
    # fails for a p-value whose CDF departs from uniform by more than ~0.04 anywhere
    assert stats.kstest(p_ad, "uniform").pvalue > 1e-3
    for alpha in (0.01, 0.05, 0.2):
        bound = 4 * np.sqrt(alpha * (1 - alpha) / n_cols)
        assert abs(np.mean(p_ad <= alpha) - alpha) < bound
        # KS statistics are discrete: P(p <= alpha) <= alpha, up to noise
        assert np.mean(p_ks <= alpha) < alpha + bound
    # the same rule rejects an uncalibrated p-value: the paper's bootstrapped KS p-value
    boot = lv.bootstrap_test(a, b, n_resamples=99, rng=7, tests="ks")["ks"].pvalue
    assert stats.kstest(boot, "uniform").pvalue < 1e-3


def test_resampling_independent_of_batch_and_seeded():
    a, b = _samples(np.random.default_rng(5), 70, 45, "ties", n_cols=6)
    ref = lv.permutation_test(a, b, n_resamples=50, rng=3)
    for batch in (1, 7, 50):
        res = lv.permutation_test(a, b, n_resamples=50, rng=np.random.default_rng(3), batch=batch)
        for name in ("ks", "ad"):
            assert_array_equal(res[name].pvalue, ref[name].pvalue)
            assert_array_equal(res[name].null_distribution, ref[name].null_distribution)
    bref = lv.bootstrap_test(a, b, n_resamples=40, rng=9, keep_pvalues=True)
    for batch in (1, 13):
        res = lv.bootstrap_test(a, b, n_resamples=40, rng=9, batch=batch, keep_pvalues=True)
        for name in ("ks", "ad"):
            assert_array_equal(res[name].pvalues, bref[name].pvalues)
    other = lv.permutation_test(a, b, n_resamples=50, rng=4)
    assert not np.array_equal(other["ad"].null_distribution, ref["ad"].null_distribution)


def test_independent_of_thread_count():
    import numba

    a, b = _samples(np.random.default_rng(6), 80, 50, "ties", n_cols=9)
    ref = lv.permutation_test(a, b, n_resamples=30, rng=2)
    bref = lv.bootstrap_test(a, b, n_resamples=20, rng=2, keep_pvalues=True)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        res = lv.permutation_test(a, b, n_resamples=30, rng=2)
        bres = lv.bootstrap_test(a, b, n_resamples=20, rng=2, keep_pvalues=True)
    finally:
        numba.set_num_threads(threads)
    for name in ("ks", "ad"):
        assert_array_equal(res[name].null_distribution, ref[name].null_distribution)
        assert_array_equal(bres[name].pvalues, bref[name].pvalues)


def test_bootstrap_root_mode_matches_single_tests():
    """mode="root": each resample's p-values equal ks_2samp(mode="root") and
    anderson_ksamp(variant="root") on the explicitly resampled data."""
    a, b = _samples(np.random.default_rng(12), 35, 28, "cont", n_cols=2, shift=0.3)
    res = lv.bootstrap_test(a, b, n_resamples=10, rng=5, mode="root", keep_pvalues=True)
    gen = np.random.default_rng(5)
    for r in range(10):
        x, y = a[gen.integers(0, 35, 35)], b[gen.integers(0, 28, 28)]
        assert_allclose(res["ks"].pvalues[r], lv.ks_2samp(x, y, mode="root").pvalue, rtol=1e-12)
        ad = lv.anderson_ksamp(x, y, variant="root")
        assert_allclose(res["ad"].pvalues[r], ad.pvalue, rtol=1e-9)


def test_bootstrap_equals_scipy_loop():
    a, b = _samples(np.random.default_rng(8), 45, 30, "cont", n_cols=3, shift=0.4)
    res = lv.bootstrap_test(a, b, n_resamples=25, rng=1, keep_pvalues=True)
    gen = np.random.default_rng(1)
    p_ks = np.empty((25, 3))
    p_ad = np.empty((25, 3))
    for r in range(25):
        x, y = a[gen.integers(0, 45, 45)], b[gen.integers(0, 30, 30)]
        for c in range(3):
            p_ks[r, c] = stats.ks_2samp(x[:, c], y[:, c], method="asymp").pvalue
            p_ad[r, c] = _scipy_ad(x[:, c], y[:, c])[1]
    assert_allclose(res["ks"].pvalues, p_ks, rtol=0, atol=1e-9)
    assert_allclose(res["ad"].pvalues, p_ad, rtol=0, atol=1e-9)
    assert_allclose(res["ks"].pvalue, np.median(p_ks, axis=0), atol=1e-9)
    assert_allclose(res["ad"].pvalue_p05, np.percentile(p_ad, 5, axis=0), atol=1e-9)
    assert res["ks"].method == "bootstrap" and "asymp" in res["ks"].pvalue_method


def test_shapes_axis_and_scalars():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 30)), rng.normal(size=(2, 3, 20))
    res = lv.ks_2samp(a, b, axis=-1)
    assert res.statistic.shape == (2, 3)
    ref = lv.ks_2samp(np.moveaxis(a, -1, 0).reshape(30, 6), np.moveaxis(b, -1, 0).reshape(20, 6))
    assert_array_equal(res.pvalue.ravel(), ref.pvalue)
    one = lv.anderson_ksamp(a[0, 0], b[0, 0])
    assert np.ndim(one.statistic) == 0
    assert_allclose(one.statistic, _scipy_ad(a[0, 0], b[0, 0])[0], rtol=1e-9)
    perm = lv.permutation_test(a[0, 0], b[0, 0], n_resamples=9, rng=0, tests="ks")
    assert list(perm) == ["ks"] and np.ndim(perm["ks"].pvalue) == 0


def test_degenerate_columns():
    a = np.column_stack([np.ones(10), np.arange(10.0)])
    b = np.column_stack([np.ones(6), np.arange(6.0) + 3])
    ks = lv.ks_2samp(a, b)
    assert ks.statistic[0] == 0 and ks.pvalue[0] == 1
    ad = lv.anderson_ksamp(a, b)
    assert np.isnan(ad.statistic[0]) and np.isfinite(ad.statistic[1])
    perm = lv.permutation_test(a, b, n_resamples=19, rng=0)
    assert perm["ks"].pvalue[0] == 1 and perm["ad"].pvalue[0] == 1


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: lv.ks_2samp([1.0, np.nan], [1.0, 2.0]), "NaN"),
        (lambda: lv.ks_2samp(np.empty((0, 3)), np.ones((4, 3))), "at least one"),
        (lambda: lv.anderson_ksamp(np.ones((5, 3)), np.ones((4, 2))), "agree"),
        (lambda: lv.ks_2samp(np.ones((5, 3)), np.ones((4, 3)), axis=2), "axis"),
        (lambda: lv.ks_2samp([1.0, 2.0], [3.0], method="nope"), "method"),
        (lambda: lv.anderson_ksamp([1.0, 2.0], [3.0, 4.0], variant="midrank"), "variant"),
        (lambda: lv.permutation_test([1.0, 2.0], [3.0], tests=("cvm",)), "tests"),
        (lambda: lv.permutation_test([1.0, 2.0], [3.0], n_resamples=0), "n_resamples"),
        (lambda: lv.bootstrap_test([1.0, 2.0], [3.0], batch=0), "batch"),
        (lambda: lv.chi2_distance([1.0, -2.0], [3.0, 4.0]), "positive"),
        (lambda: lv.compare_correlations(np.ones((5, 2)), np.ones((5, 2))), "constant"),
    ],
)
def test_bad_input_raises_one_line_input_error(call, match):
    with pytest.raises(InputError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_chi2_distance():
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(size=(500, 4)), rng.lognormal(0.2, 1.0, size=(300, 4))
    per_col = lv.chi2_distance(a, b, bins=10, reduce=None)
    for c in range(4):  # independent loop: numpy histograms of log10 on pooled-range edges
        la, lb = np.log10(a[:, c]), np.log10(b[:, c])
        edges = np.linspace(min(la.min(), lb.min()), max(la.max(), lb.max()), 11)
        p = np.histogram(la, edges)[0] / 500
        q = np.histogram(lb, edges)[0] / 300
        keep = p + q > 0
        assert_allclose(per_col[c], np.sum((p - q)[keep] ** 2 / (p + q)[keep]), rtol=1e-12)
    assert_allclose(lv.chi2_distance(a, b, bins=10), per_col.sum(), rtol=1e-12)
    assert_allclose(lv.chi2_distance(a, b, bins=10, reduce="mean"), per_col.mean(), rtol=1e-12)
    assert lv.chi2_distance(a, a) == 0.0
    # disjoint supports give the maximum, 2 per column
    assert_allclose(lv.chi2_distance(a, a * 1e6, bins=np.linspace(-3, 9, 13), reduce=None), 2.0)


def test_compare_correlations():
    rng = np.random.default_rng(4)
    cov = np.array([[1.0, 0.6, 0.2], [0.6, 1.0, 0.4], [0.2, 0.4, 1.0]])
    ref, other, aux = (rng.multivariate_normal(np.zeros(3), cov, size=n) for n in (400, 300, 350))
    res = lv.compare_correlations(ref, other, aux)
    assert_allclose(res.corr_ref, np.corrcoef(ref.T), rtol=1e-12)
    d = np.abs(np.corrcoef(other.T) - np.corrcoef(ref.T))[np.triu_indices(3, 1)]
    da = np.abs(np.corrcoef(aux.T) - np.corrcoef(ref.T))[np.triu_indices(3, 1)]
    assert_allclose(res.max_abs_diff, d.max(), rtol=1e-12)
    assert_allclose(res.rms_abs_diff, np.sqrt(np.mean(d**2)), rtol=1e-12)
    assert_allclose(res.ratio_max, d.max() / da.max(), rtol=1e-12)
    assert lv.compare_correlations(ref, other).corr_aux is None


def test_root_pvalue_table_invariants():
    """Without ROOT: ROOT's logit-linear interpolation reproduces its own quantile table at
    the knots (p = 1 - P) and decreases monotonically in between and beyond."""
    from lensval.gof.anderson import _ROOT_P, _ROOT_TS, ad_pvalue

    assert_allclose(ad_pvalue(_ROOT_TS, "root")[0], 1.0 - _ROOT_P, rtol=1e-12, atol=1e-15)
    t = np.linspace(_ROOT_TS[0] - 1.0, _ROOT_TS[-1] + 2.0, 2001)
    p = ad_pvalue(t, "root")[0]
    assert np.all(np.diff(p) <= 0) and np.all((p > 0) & (p <= 1))
    inside = (t > _ROOT_TS[0]) & (t < _ROOT_TS[-1])
    assert np.all(np.diff(p[inside]) < 0)  # strictly decreasing across the table
