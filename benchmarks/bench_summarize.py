#!/usr/bin/env python
"""Summary statistics: LensTools 1.2 (one map at a time) vs ``lensval.summarize``.

Same maps (float64, 256^2, lognormal), default binning (248 ell bins, 19 Minkowski
thresholds), one run, so the ratios are meaningful on a busy machine. Prints the
per-statistic times, the speed-up, and the largest relative difference from LensTools.

    python benchmarks/bench_summarize.py [--n 1000] [--threads K]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "tools" / "lenstools"


def make_maps(n: int) -> tuple[np.ndarray, float]:
    """Lognormal maps from lensval's simulator, else an in-script lognormal field."""
    try:
        import lensval as lv

        da = lv.simulate(n, split="validation", seed=0)
        return np.asarray(da.values, dtype=np.float64), float(da.attrs["angle_deg"])
    except (ImportError, AttributeError):
        rng = np.random.default_rng(0)
        k = np.hypot(*np.meshgrid(np.fft.fftfreq(256), np.fft.fftfreq(256), indexing="ij"))
        k[0, 0] = np.inf
        amp = k**-1.25
        out = np.empty((n, 256, 256))
        for i in range(n):
            g = np.fft.ifft2(amp * np.fft.fft2(rng.standard_normal((256, 256)))).real
            g = 0.8 * g / g.std()
            out[i] = 0.03 * (np.exp(g - 0.32) - 1.0)
        return out, np.sqrt(12.0) / 4.0


def time_lenstools(maps, angle, ell_edges, nu_edges, n_lt):
    sys.path.insert(0, str(SHARED))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # isort: off
        import lenstools_compat  # noqa: F401  (numpy-2 patches; must come first)
        import astropy.units as u
        from lenstools import ConvergenceMap
        # isort: on
    power, mink = [], []
    t_p = t_m = 0.0
    cpu0 = time.process_time()
    for m in maps[:n_lt]:
        cm = ConvergenceMap(m, angle=angle * u.deg)
        t0 = time.perf_counter()
        power.append(cm.powerSpectrum(ell_edges)[1])
        t1 = time.perf_counter()
        mink.append(np.stack(cm.minkowskiFunctionals(nu_edges, norm=True)[1:]))
        t2 = time.perf_counter()
        t_p += t1 - t0
        t_m += t2 - t1
    return np.array(power), np.array(mink), t_p, t_m, time.process_time() - cpu0


def maxrel(got, ref):
    """Largest |got - ref| / |ref| (inf if a zero in ref is not matched exactly)."""
    nz = ref != 0
    if not np.array_equal(got[~nz], ref[~nz]):
        return np.inf
    return float(np.max(np.abs(got[nz] - ref[nz]) / np.abs(ref[nz])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="maps (default 1000)")
    ap.add_argument("--lenstools-n", type=int, default=None,
                    help="maps for LensTools (default: all)")
    ap.add_argument("--threads", type=int, default=None,
                    help="lensval threads (default: NUMBA_NUM_THREADS / the cores)")
    args = ap.parse_args()
    if args.threads:
        os.environ["NUMBA_NUM_THREADS"] = str(args.threads)

    import lensval as lv
    from lensval.stats import _engine

    n = args.n
    n_lt = min(args.lenstools_n or n, n)
    print(f"making {n} maps of 256^2 ...", flush=True)
    maps, angle = make_maps(n)
    cfg = lv.StatsConfig()
    threads = _engine.n_threads()
    print(f"cores usable: {len(os.sched_getaffinity(0))}, lensval threads: {threads}, "
          f"load average: {os.getloadavg()[0]:.1f}")

    lv.summarize(maps[:8], angle_deg=angle)  # JIT warm-up (cached after the first run)

    def run(want):
        plan = _engine.make_plan(256, want, angle_deg=angle, ell_edges=cfg.ell_edges,
                                 nu_edges=cfg.nu_edges, norm=True,
                                 kappa_edges=cfg.kappa_edges,
                                 peak_nu_edges=cfg.peak_nu_edges)
        t0 = time.perf_counter()
        out = _engine.compute_block(maps, plan)
        return out, time.perf_counter() - t0

    t0, c0 = time.perf_counter(), time.process_time()
    ds = lv.summarize(maps, angle_deg=angle)
    t_all, cpu_all = time.perf_counter() - t0, time.process_time() - c0
    pm, t_pm = run({"power", "minkowski"})
    per = {name: run(want)[1] for name, want in (
        ("power spectrum", {"power"}), ("Minkowski (incl. sigma)", {"minkowski"}),
        ("pixel histogram", {"hist"}), ("peak counts (incl. sigma)", {"peaks"}),
        ("moments", {"moments"}))}

    print(f"running LensTools on {n_lt} maps, one at a time ...", flush=True)
    lt_p, lt_m, t_lp, t_lm, cpu_lt = time_lenstools(maps, angle, cfg.ell_edges, cfg.nu_edges, n_lt)

    ms = 1e3
    print("\nper map, ms                     LensTools   lensval")
    print(f"  power spectrum (248 bins)      {t_lp / n_lt * ms:9.3f} "
          f"{per['power spectrum'] / n * ms:9.3f}")
    print(f"  Minkowski V0-V2 (19 bins)      {t_lm / n_lt * ms:9.3f} "
          f"{per['Minkowski (incl. sigma)'] / n * ms:9.3f}")
    print(f"  pixel histogram (130 bins)     {'-':>9} {per['pixel histogram'] / n * ms:9.3f}")
    print(f"  peak counts (20 bins)          {'-':>9} "
          f"{per['peak counts (incl. sigma)'] / n * ms:9.3f}")
    print(f"  moments                        {'-':>9} {per['moments'] / n * ms:9.3f}")
    lt_total = (t_lp + t_lm) / n_lt
    print(f"  P + MF together                {lt_total * ms:9.3f} {t_pm / n * ms:9.3f}")
    print(f"  summarize (all of the above)   {'-':>9} {t_all / n * ms:9.3f}")
    print(f"\nspeed-up, P + MF:                       {lt_total / (t_pm / n):6.1f}x")
    print(f"speed-up, LensTools P + MF vs summarize: {lt_total / (t_all / n):6.1f}x "
          "(summarize also does histograms, peaks, moments)")
    # CPU time (all threads) is robust to other processes sharing the cores: it shows
    # the work per map; wall time shows what the threads achieved on this machine now
    cpu_lt_map, cpu_lv_map = cpu_lt / n_lt, cpu_all / n
    print(f"CPU time per map: LensTools {cpu_lt_map * ms:.3f} ms, summarize "
          f"{cpu_lv_map * ms:.3f} ms (ratio {cpu_lt_map / cpu_lv_map:.1f}x; with the "
          f"{threads} threads on idle cores the wall-time ratio would be up to "
          f"{threads * cpu_lt_map / cpu_lv_map:.1f}x); summarize used "
          f"{cpu_all / t_all:.2f} cores on average")

    ref_mf = lt_m.transpose(1, 0, 2)  # (3, n, nbins)
    rel_p = maxrel(ds.power.values[:n_lt], lt_p)
    rel_v = [maxrel(ds.minkowski.values[:n_lt, k], ref_mf[k]) for k in range(3)]
    exact = (np.array_equal(ds.power.values[:n_lt], lt_p)
             and np.array_equal(ds.minkowski.values[:n_lt], lt_m))
    print(f"\nmax relative difference from LensTools: P {rel_p:.1e}, V0 {rel_v[0]:.1e}, "
          f"V1 {rel_v[1]:.1e}, V2 {rel_v[2]:.1e}; bit-identical: {exact}")
    print(f"P + MF run equals summarize bit for bit: "
          f"{np.array_equal(pm['power'], ds.power.values)}")


if __name__ == "__main__":
    main()
