"""Make the shipped DCGAN checkpoint from a training run (how cpu.pt was produced).

1. Selection (paper Sect. 2.3): sample ``--n-select`` maps from each of the last
   ``--last`` checkpoints of the run and keep the one with the smallest chi-squared
   power-spectrum distance to the ``development`` split.
2. Shipping: generator + discriminator in float16, metadata (training provenance and
   the selection table), no optimiser state -> ``<dest>/cpu.pt``.
3. Quality: ``--n-eval`` maps of the shipped (fp16) file against as many ``validation``
   maps: pixel moments, tail fractions, power-spectrum ratios, chi-squared distance ->
   ``<dest>/cpu.json`` (the model card's numbers) and a PNG of samples.

    python scripts/make_dcgan_checkpoint.py /work/scratch/dcgan_cpu \\
        --dest generators/dcgan/lensval_dcgan/checkpoints --png /tmp/samples.png
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def _moments(x: np.ndarray) -> dict[str, float]:
    x = np.asarray(x, dtype=np.float64).ravel()
    m, s = x.mean(), x.std()
    z = (x - m) / s
    return {"mean": m, "std": s, "skewness": float(np.mean(z**3)),
            "kurtosis_excess": float(np.mean(z**4) - 3), "min": float(x.min()),
            "max": float(x.max()), "frac_gt_0.1": float(np.mean(x > 0.1)),
            "frac_gt_0.2": float(np.mean(x > 0.2)),
            "frac_lt_-0.04": float(np.mean(x < -0.04))}


def evaluate(gen, n: int, seed: int = 1) -> dict:
    """Quality of a generator against the validation split (numbers for the model card)."""
    from lensval_dcgan.select import chi2_edges, log_power

    import lensval as lv

    val = lv.simulate(n, split="validation", seed=seed).values
    fake = gen.sample(n, np.random.default_rng(seed))
    out = {"n": n, "validation": _moments(val), "generated": _moments(fake)}
    # per-map std and skewness distributions (medians)
    for name, x in (("validation", val), ("generated", fake)):
        x = x.reshape(n, -1).astype(np.float64)
        s = x.std(axis=1)
        sk = np.mean(((x - x.mean(1, keepdims=True)) / s[:, None]) ** 3, axis=1)
        out[name]["per_map_std_median"] = float(np.median(s))
        out[name]["per_map_skew_median"] = float(np.median(sk))
    lp_v, ell = log_power(val, gen.angle_deg)
    lp_g, _ = log_power(fake, gen.angle_deg)
    mean_ratio = np.mean(10**lp_g, axis=0) / np.mean(10**lp_v, axis=0)
    picks = [1000, 2000, 5000, 10000, 20000, 30000, 40000, 49000]
    out["power_ratio"] = {str(int(ell[np.argmin(abs(ell - e))])):
                          float(mean_ratio[np.argmin(abs(ell - e))]) for e in picks}
    edges = chi2_edges(lp_v)
    lp_g = np.clip(lp_g, edges[:, :1].T, edges[:, -1:].T)
    out["chi2_power_vs_validation"] = lv.chi2_distance(lp_g, lp_v, bins=edges, log=False,
                                                       reduce="mean")
    # KS on pixel values (subsample: 1 pixel in 64 per map, to keep pixels ~independent)
    ks = lv.ks_2samp(val[:, ::8, ::8].ravel(), fake[:, ::8, ::8].ravel())
    out["pixel_ks_statistic"] = float(getattr(ks, "statistic", np.nan))
    return out, fake, val


def save_png(fake: np.ndarray, val: np.ndarray, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(12, 6.4))
    for j in range(4):
        for i, (x, name) in enumerate(((val, "validation"), (fake, "DCGAN (cpu)"))):
            ax = axes[i, j]
            ax.imshow(x[j], cmap="inferno", vmin=-0.05, vmax=0.15)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="training output folder (step_*.pt)")
    ap.add_argument("--dest", type=Path, required=True)
    ap.add_argument("--last", type=int, default=8, help="candidate checkpoints")
    ap.add_argument("--n-select", type=int, default=2000)
    ap.add_argument("--n-dev", type=int, default=2000)
    ap.add_argument("--n-eval", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--criterion", choices=("power", "power+pixel"), default="power+pixel")
    ap.add_argument("--png", default=None)
    ap.add_argument("--wall-note", default="2 shared CPU cores (AMD EPYC, AVX-512 BF16)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from lensval_dcgan.checkpoint import half_precision, load_checkpoint, save_checkpoint
    from lensval_dcgan.plugin import DCGANGenerator
    from lensval_dcgan.select import select_checkpoint

    import lensval as lv

    t0 = time.perf_counter()
    cands = sorted(args.run.glob("step_*.pt"))[-args.last:]
    dev = lv.simulate(args.n_dev, split="development", seed=0).values
    sel = select_checkpoint(cands, dev, n=args.n_select, seed=0, criterion=args.criterion,
                            progress=False)
    for p, d in sel.distances.items():
        print(f"{p.name}: score {d:.4f} (power {sel.power[p]:.4f}, pixel {sel.pixel[p]:.4f})"
              f"{'  <- best' if p == sel.best else ''}", flush=True)

    blob = load_checkpoint(sel.best)
    meta = dict(blob["metadata"])
    meta["selection"] = {
        "rule": "smallest mean chi-squared distance of log10 P(ell) histograms "
                "(20 bins per ell bin) to the development split"
                + (" plus the pixel-histogram chi-squared distance"
                   if args.criterion == "power+pixel" else ""),
        "criterion": args.criterion,
        "n_generated": args.n_select, "n_development": args.n_dev,
        "candidates": {p.name: {"score": round(d, 5), "power": round(sel.power[p], 5),
                                "pixel": round(sel.pixel[p], 5)}
                       for p, d in sel.distances.items()},
        "chosen": sel.best.name,
    }
    meta["hardware"] = args.wall_note
    meta["weights_dtype"] = "float16"
    args.dest.mkdir(parents=True, exist_ok=True)
    target = args.dest / "cpu.pt"
    save_checkpoint(target, metadata=meta, generator=half_precision(blob["generator"]),
                    discriminator=half_precision(blob["discriminator"]))
    os.chmod(target, 0o644)

    gen = DCGANGenerator(target)
    quality, fake, val = evaluate(gen, args.n_eval)
    # fp16 weights vs fp32 weights of the same step: effect of shipping in half precision
    full = DCGANGenerator(sel.best)
    z = np.random.default_rng(2).standard_normal((64, 64)).astype(np.float32)
    a, b = full.decode(z), gen.decode(z)
    quality["fp16_vs_fp32_max_abs_kappa"] = float(np.abs(a - b).max())
    card = {
        "file": target.name,
        "sha256": gen.checkpoint_sha256,
        "size_bytes": target.stat().st_size,
        "preset": meta["preset"],
        "transform": meta["transform"],
        "step": meta["step"], "epoch": meta["epoch"], "n_train": meta["n_train"],
        "source": meta.get("source"), "seed": meta["seed"],
        "train_wall_s": meta.get("wall_s"), "hardware": args.wall_note,
        "threads": meta.get("threads"), "amp_bf16": meta.get("amp_bf16"),
        "torch_version": meta["torch_version"], "selection": meta["selection"],
        "quality": quality,
    }
    with open(args.dest / "cpu.json", "w") as f:
        json.dump(card, f, indent=1, default=float)
        f.write("\n")
    print(json.dumps(card, indent=1, default=float))
    if args.png:
        save_png(fake, val, args.png)
    print(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
