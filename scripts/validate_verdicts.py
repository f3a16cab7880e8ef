"""Controls and false-positive rate of lensval.compare's verdict rule, on the simulator.

Writes a markdown summary (for docs/comparison.md) to stdout:

1. the three controls at full size (1000 vs 1000 maps): validation vs auxiliary (null),
   cosmogan vs gaussian preset (same spectrum), power spectrum scaled by 1.1;
2. the false-positive rate over K independent null pairs (different seeds), per
   family and for "any family".

    python scripts/validate_verdicts.py --pairs 20 --n 1000 > fpr.md
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import lensval as lv


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--n-resamples", type=int, default=1000)
    ap.add_argument("--skip-controls", action="store_true")
    ap.add_argument("--first-seed", type=int, default=1000,
                    help="Null pair i uses seed first_seed + i.")
    args = ap.parse_args()
    n, B = args.n, args.n_resamples
    t0 = time.perf_counter()

    if not args.skip_controls:
        val = lv.summarize(lv.simulate(n, split="validation", seed=0, tiles_per_parent=1))
        aux_maps = lv.simulate(n, split="auxiliary", seed=0, tiles_per_parent=1)
        aux = lv.summarize(aux_maps)
        dev = lv.summarize(lv.simulate(n, split="development", seed=0, tiles_per_parent=1))
        gauss = lv.summarize(lv.simulate(n, split="auxiliary", seed=0, preset="gaussian",
                                          tiles_per_parent=1))
        scaled_maps = aux_maps * np.sqrt(1.1)
        scaled_maps.attrs = aux_maps.attrs
        scaled = lv.summarize(scaled_maps)
        print(f"## Controls ({n} vs {n} maps, permutation, B = {B}, seed 0)\n")
        for title, b, extra in (("validation vs auxiliary (null)", aux, dev),
                                ("cosmogan vs gaussian preset (same spectrum)", gauss, None),
                                ("power spectrum x 1.1", scaled, None)):
            res = lv.compare(val, b, aux=extra, n_resamples=B, rng=0)
            print(f"### {title}\n\n```\n{res.table()}\n```\n")

    fams = list(lv.comparison.FAMILIES)
    flags = np.zeros((args.pairs, len(fams)), bool)
    for i in range(args.pairs):
        seed = args.first_seed + i
        a = lv.summarize(lv.simulate(n, split="validation", seed=seed, tiles_per_parent=1))
        b = lv.summarize(lv.simulate(n, split="auxiliary", seed=seed, tiles_per_parent=1))
        res = lv.compare(a, b, n_resamples=B, rng=seed)
        flags[i] = [res.families[f].verdict == "disagree" for f in fams]
    k = args.pairs
    print(f"## False-positive rate over {k} independent null pairs ({n} vs {n} maps, B = {B})\n")
    print("| family | pairs flagged | rate |\n|---|---|---|")
    for j, f in enumerate(fams):
        print(f"| {f} | {flags[:, j].sum()} / {k} | {flags[:, j].mean():.2f} |")
    anyf = flags.any(axis=1)
    print(f"| any family | {anyf.sum()} / {k} | {anyf.mean():.2f} |\n")
    print(f"(run time {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
