"""Throughput of the embedded simulator: maps/s per preset.

    python benchmarks/bench_simulate.py [--n 512]

Compares, in the same run, a straightforward reference (numpy.fft, full complex fft2,
one parent at a time, single thread) with lensval's path (real-space float64 noise,
scipy rfft2/irfft2 in place, one thread per parent) with 1 worker and with all CPUs.
The machine may be shared: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lensval import simulator as sim


def reference_parent(spec, seed: int, split_id: int, index: int) -> np.ndarray:
    """The doc's algorithm written plainly (same spectrum, same noise stream)."""
    n = sim.PARENT_SIZE
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(split_id, index)))
    noise = rng.standard_normal((n, n))
    amp_full = np.empty((n, n))
    half = spec.amplitude
    amp_full[:, : n // 2 + 1] = half
    # Hermitian completion of the half plane: amp(-ly, -lx) = amp(ly, lx)
    amp_full[:, n // 2 + 1:] = half[(-np.arange(n)) % n][:, 1: n // 2][:, ::-1]
    f = np.fft.fft2(noise) * amp_full
    f[0, 0] += spec.dc
    g = np.fft.ifft2(f).real
    return spec.kappa0 * (np.exp(g - np.log(spec.kappa0)) - 1) if spec.kappa0 else g


def reference(n_maps: int, preset: str) -> np.ndarray:
    spec = sim._spectrum(preset)
    out = np.empty((n_maps, sim.MAP_SIZE, sim.MAP_SIZE), np.float32)
    for p in range(-(-n_maps // 16)):
        sim._cut(reference_parent(spec, 0, 1, p), out[16 * p: 16 * p + 16])
    return out


def rate(func, n: int, repeat: int = 2) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=512)
    args = parser.parse_args()
    n = args.n
    all_cpus = sim._default_workers()
    print(f"{n} maps per run, best of 2, after a warm-up; {all_cpus} CPUs available")
    print(f"{'preset':12s} {'reference':>10s} {'workers=1':>10s} {f'workers={all_cpus}':>10s}"
          f" {'speed-up':>9s}")
    for preset in sim.PRESETS:
        sim.simulate_array(32, preset=preset)  # spectrum cache + warm-up
        ref = rate(lambda p=preset: reference(n, p), n)
        one = rate(lambda p=preset: sim.simulate_array(n, preset=p, workers=1), n)
        many = rate(lambda p=preset: sim.simulate_array(n, preset=p, workers=all_cpus), n)
        print(f"{preset:12s} {ref:10.0f} {one:10.0f} {many:10.0f} {many / ref:8.1f}x  maps/s")
    # sanity: the reference is the same field (up to FFT rounding)
    a, b = reference(16, "cosmogan"), sim.simulate_array(16, "validation", 0, "cosmogan")
    print(f"max |reference - lensval| over 16 maps: {np.abs(a - b).max():.1e}")


if __name__ == "__main__":
    main()
