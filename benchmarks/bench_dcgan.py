"""Throughput of the DCGAN generator (maps/s) on this machine, both presets.

Compares, in one run, the reference path (float32, contiguous NCHW) against the
plug-in's path (float32 + channels_last) and the fast path (bf16 autocast +
channels_last), and times the plug-in end to end (``DCGANGenerator.sample``, inverse
transform and numpy conversion included) with the shipped checkpoint. Ratios are
against the reference path measured in the same run.

    python benchmarks/bench_dcgan.py [--threads 2] [--n 256] [--presets cpu,paper]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _rate(fn, n: int, batch: int, repeats: int = 2) -> float:
    fn(batch)  # warm-up (allocations, oneDNN primitive caches)
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(0, n, batch):
            fn(batch)
        best = min(best, time.perf_counter() - t)
    return n / best


def bench_module(preset: str, n: int, batch: int) -> dict[str, float]:
    from lensval_dcgan.model import build_models

    g, _ = build_models(preset, seed=0)
    g.eval()
    p = g.preset
    out = {}
    for name, cl, amp in [("fp32 NCHW (reference)", False, False),
                          ("fp32 channels_last (plug-in default)", True, False),
                          ("bf16 autocast + channels_last", True, True)]:
        m = g.to(memory_format=torch.channels_last if cl else torch.contiguous_format)

        def run(b, m=m, amp=amp):
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                        enabled=amp):
                return m(torch.randn(b, p.latent_dim)).float()

        out[name] = _rate(run, n, batch)
    # accuracy of the fast path relative to fp32 (tanh output s)
    z = torch.randn(batch, p.latent_dim)
    with torch.inference_mode():
        ref = g(z)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = g(z).float()
    out["_bf16_max_abs_err_s"] = float((fast - ref).abs().max())
    out["_bf16_rms_err_s"] = float((fast - ref).pow(2).mean().sqrt())
    return out


def bench_plugin(n: int) -> dict[str, float]:
    from lensval_dcgan.plugin import DCGANGenerator, default_checkpoint

    if not default_checkpoint().is_file():
        return {}
    out = {}
    for dtype in ("float32", "bfloat16"):
        gen = DCGANGenerator(dtype=dtype)
        rng = np.random.default_rng(0)
        gen.sample(gen.batch_size, rng)
        t = time.perf_counter()
        gen.sample(n, rng)
        out[f"plug-in sample() {dtype}"] = n / (time.perf_counter() - t)
    # accuracy of bf16 inference in kappa units, relative to the pixel std
    z = np.random.default_rng(1).standard_normal((64, 64)).astype(np.float32)
    ref = DCGANGenerator(dtype="float32").decode(z)
    fast = DCGANGenerator(dtype="bfloat16").decode(z)
    err = np.abs(fast - ref)
    out["_bf16 kappa rms error / pixel std"] = float(np.sqrt(np.mean(err**2)) / ref.std())
    out["_bf16 kappa max abs error"] = float(err.max())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=256, help="maps per timing (cpu preset)")
    ap.add_argument("--presets", default="cpu,paper")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for preset in args.presets.split(","):
        n = args.n if preset != "paper" else max(64, args.n // 4)
        res = bench_module(preset, n, batch=64 if preset != "paper" else 32)
        base = res["fp32 NCHW (reference)"]
        print(f"\npreset {preset!r} ({n} maps):")
        for k, v in res.items():
            if k.startswith("_"):
                print(f"  {k[1:]:40s} {v:.2e}")
            else:
                print(f"  {k:40s} {v:8.1f} maps/s   x{v / base:.2f}")
    res = bench_plugin(args.n)
    if res:
        print(f"\nshipped checkpoint, end to end ({args.n} maps):")
        for k, v in res.items():
            if k.startswith("_"):
                print(f"  {k[1:]:40s} {v:.2e}")
                continue
            print(f"  {k:40s} {v:8.1f} maps/s")
            print(f"  {'-> 6400 maps (lensval score)':40s} {6400 / v:8.1f} s")


if __name__ == "__main__":
    main()
