"""Benchmarks of the novelty checks on 2 cores (prints times; no assertions).

1. Birthday test in power-spectrum space at s = 32768 (the paper's batch size): the
   exact closest-pair search over one batch of 32768 log-power rows (d ~ 250), vs a
   brute-force ``scipy.spatial.distance.pdist`` on a subset (the reference), with the
   time of the whole default test (threshold from 2s real maps + B batches) derived
   from it.
2. Nearest neighbours in pixel space, 6400 generated vs 8000 training maps of 256^2
   (2 x 6400 x 8000 x 65536 = 6.7 TFLOP): measured on a subset of the generated maps
   and extrapolated linearly (the cost is linear in n_generated), vs a brute-force
   float64 NumPy GEMM + argmin on a smaller subset (the reference).

    python benchmarks/bench_novelty.py            # ~5 min
    python benchmarks/bench_novelty.py --full     # also the full 6400 x 8000 run

The rows of (1) are synthetic: 4096 simulated maps' log power spectra set the mean
and per-bin scatter of a Gaussian model from which 32768 rows are drawn (simulating
32768 + 65536 maps would take ~6 minutes and change nothing in the search cost).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def _log_power_rows(n_maps: int) -> np.ndarray:
    import lensval as lv

    maps = lv.simulate(n_maps, split="validation", seed=0, progress=False)
    ps = lv.power_spectrum(maps.values, angle_deg=maps.attrs["angle_deg"])
    return np.log(ps.power[:, ps.n_modes > 0])


def bench_birthday(s: int = 32768, n_batches: int = 10) -> None:
    from scipy.spatial.distance import pdist

    from lensval._pairwise import Rows, closest_pairs

    t0 = time.perf_counter()
    base = _log_power_rows(4096)
    t_sim = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    rows = base.mean(0) + base.std(0) * rng.standard_normal((s, base.shape[1]))
    print(f"[birthday] {base.shape[1]} log-power bins; 4096 maps simulated + spectra in "
          f"{t_sim:.1f} s")

    # reference: brute-force pdist on a subset, same threshold count
    sub = rows[:4096]
    t0 = time.perf_counter()
    d = pdist(sub)
    thr = float(np.sort(d)[10])
    n_ref_below = int(np.count_nonzero(d < thr))
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = closest_pairs(Rows.build(sub), n_pairs=5, threshold2=thr**2)
    t_ours_sub = time.perf_counter() - t0
    assert res.n_below == n_ref_below
    print(f"[birthday] s = 4096: pdist (reference) {t_ref:.2f} s, ours {t_ours_sub:.2f} s "
          f"(ratio {t_ref / t_ours_sub:.1f}x)")

    t0 = time.perf_counter()
    res = closest_pairs(Rows.build(rows), n_pairs=5, threshold2=thr**2)
    t_batch = time.perf_counter() - t0
    print(f"[birthday] s = {s}: one batch ({s * (s - 1) // 2:.3g} pairs) in {t_batch:.1f} s "
          f"({res.n_checked} exact re-checks); pdist would need "
          f"{t_ref * (s / 4096) ** 2:.0f} s and {s * (s - 1) / 2 * 8 / 2**30:.1f} GiB")
    # default test: threshold from m = 2s real maps (4x the pairs of a batch) + B batches
    print(f"[birthday] whole default test (B = {n_batches}, m = 2s): ~"
          f"{t_batch * (4 + n_batches):.0f} s of search, plus generating and "
          f"transforming {n_batches * s + 2 * s} maps")


def bench_nn(full: bool) -> None:
    import lensval as lv
    from lensval.novelty import nearest_neighbours

    n_train, n_gen = 8000, 6400
    t0 = time.perf_counter()
    train = lv.simulate(n_train, split="train", seed=0, progress=False)
    n_sub = n_gen if full else 640
    gen = lv.simulate(n_sub, split="auxiliary", seed=0, progress=False)
    print(f"[nn] simulated {n_train} + {n_sub} maps of 256^2 in "
          f"{time.perf_counter() - t0:.0f} s")

    # reference: brute force float64 GEMM + argmin on 64 generated maps
    tr64 = train.values.reshape(n_train, -1).astype(np.float64)
    g64 = gen.values[:64].reshape(64, -1).astype(np.float64)
    t0 = time.perf_counter()
    d2 = (g64**2).sum(1)[:, None] + (tr64**2).sum(1)[None, :] - 2.0 * g64 @ tr64.T
    ref_idx = d2.argmin(1)
    t_ref = (time.perf_counter() - t0) * n_gen / 64
    del tr64, d2

    t0 = time.perf_counter()
    res = nearest_neighbours(gen, train, "pixel", progress=False)
    t_ours = time.perf_counter() - t0
    agree = float(np.mean(res.indices[:64] == ref_idx))
    flops = 2.0 * n_sub * n_train * 65536
    print(f"[nn] ours: {n_sub} x {n_train} in {t_ours:.1f} s ({flops / t_ours / 1e9:.0f} "
          f"GFLOP/s effective, {res.meta['exact_rechecks']} exact re-checks); "
          f"brute-force float64 GEMM agrees on {100 * agree:.0f}% of 64 indices")
    scale = n_gen / n_sub
    print(f"[nn] 6400 x 8000: ours {t_ours * scale:.0f} s "
          f"({'measured' if full else f'extrapolated x{scale:.0f}'}), brute-force float64 "
          f"GEMM {t_ref:.0f} s (extrapolated from 64 maps; ratio "
          f"{t_ref / (t_ours * scale):.1f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="run the full 6400 x 8000 search")
    ap.add_argument("--skip-nn", action="store_true")
    ap.add_argument("--skip-birthday", action="store_true")
    args = ap.parse_args()
    if not args.skip_birthday:
        bench_birthday()
    if not args.skip_nn:
        bench_nn(args.full)


if __name__ == "__main__":
    main()
