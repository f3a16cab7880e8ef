"""Regenerate the shipped convergence power-spectrum tables lensval/data/cl_kappa_zs*.txt.

Development-only: needs pyccl (and camb for the CAMB transfer function), which lensval
itself never imports: a fixed cosmology gains nothing from calling them at run time.

    pip install pyccl camb
    python scripts/make_cl_tables.py --check       # compare with the committed tables
    python scripts/make_cl_tables.py               # rewrite them

Recipe (the tables' header): flat LCDM with the paper's cosmology (Omega_m 0.26,
Omega_L 0.74, h 0.72, n_s 0.96, sigma8 0.798, w -1; Omega_b 0.046 assumed), CAMB
transfer function, Halofit (Takahashi et al. 2012), Limber, one source plane at z_s.
The multipoles are 300 log-spaced values from 2 to 2e5, which covers the 1024^2
parents' Fourier grid (ell from 104 to 7.5e4) with margin. The ell prefactor is the
weak-lensing one (``WeakLensingTracer``'s ``der_angles=2``), with an exact
single-plane kernel.

Measured with pyccl 3.3.6 + camb 2.0.5: the committed tables are reproduced to
0.15% (z_s = 2) and 0.4% (z_s = 1), growing slowly with ell; the committed files were
made with pyccl 3.3.6 and an unrecorded camb version. These differences are far below
anything the simulator's tests or the paper's figures resolve.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "lensval" / "data"
SOURCE_REDSHIFTS = (1.0, 2.0)
ELL = np.geomspace(2.0, 2.0e5, 300)

OMEGA_M, OMEGA_B = 0.26, 0.046
COSMOLOGY = dict(Omega_c=OMEGA_M - OMEGA_B, Omega_b=OMEGA_B, h=0.72, n_s=0.96,
                 sigma8=0.798, w0=-1.0, wa=0.0, Omega_k=0.0,
                 transfer_function="boltzmann_camb", matter_power_spectrum="halofit")


def header(z_source: float, pyccl_version: str) -> str:
    return (
        f"kappa angular power spectrum, single source plane z_s={z_source:.1f}; flat LCDM "
        "Om=0.26 OL=0.74 Ob=0.046(assumed) h=0.72 ns=0.96 sigma8=0.798 w=-1;\n"
        f"pyccl {pyccl_version}: transfer=boltzmann_camb, nonlinear=halofit "
        "(Takahashi+2012), Limber. columns: ell C_ell"
    )


def cl_kappa(z_source: float) -> np.ndarray:
    """Limber C_ell of the convergence from a single source plane at ``z_source``."""
    import pyccl as ccl

    cosmo = ccl.Cosmology(**COSMOLOGY)
    tracer = ccl.Tracer()
    # exact single-plane lensing kernel; der_angles=2 is the weak-lensing ell factor
    # sqrt((l+2)!/(l-2)!)/(l+1/2)^2, der_bessel=-1 the Limber bessel shortcut
    tracer.add_tracer(cosmo, kernel=ccl.get_kappa_kernel(cosmo, z_source=z_source,
                                                         n_samples=500),
                      der_bessel=-1, der_angles=2)
    return ccl.angular_cl(cosmo, tracer, tracer, ELL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DATA, help="output folder")
    parser.add_argument("--check", action="store_true",
                        help="compare with the tables in --out instead of writing")
    args = parser.parse_args()

    import pyccl as ccl

    for zs in SOURCE_REDSHIFTS:
        path = args.out / f"cl_kappa_zs{zs:.1f}.txt"
        cl = cl_kappa(zs)
        if args.check:
            ell_old, cl_old = np.loadtxt(path, unpack=True)
            if not np.allclose(ell_old, ELL, rtol=1e-6, atol=0):
                raise SystemExit(f"{path}: ell grid differs from geomspace(2, 2e5, 300)")
            rel = cl / cl_old - 1
            print(f"{path.name}: max |rel diff| {np.abs(rel).max():.2e} "
                  f"(ell=2: {rel[0]:+.2e}, ell=2e5: {rel[-1]:+.2e})")
        else:
            np.savetxt(path, np.column_stack([ELL, cl]), fmt="%.6e",
                       header=header(zs, ccl.__version__))
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
