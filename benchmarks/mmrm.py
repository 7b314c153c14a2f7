"""MMRM benchmark: fit time and peak memory of fit_mmrm, next to statsmodels' Python peers.

    python benchmarks/mmrm.py                     # 60, 1,000, 10,000, 100,000 subjects
    python benchmarks/mmrm.py --quick             # 60 and 1,000 only
    python benchmarks/mmrm.py --sizes 60 5000

Each trial has 8 post-baseline visits with intermittent missing visits (analysis.stats.simulate).
Ours: `chg ~ trt * week` with AR(1) and UN residual covariance (REML, between-within df, which is
what a user gets by default). Peers on the same data: statsmodels MixedLM (random intercept,
REML) and GEE (autoregressive working correlation). Peers are skipped above --peer-max subjects
because they take minutes there. Targets (one core): 60 subjects < 50 ms; 100,000 subjects AR(1)
< 5 s and UN < 15 s. Speed is reported here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.genmod.cov_struct import Autoregressive

from analysis.stats import fit_mmrm
from analysis.stats.simulate import simulate_trial

FORMULA = "chg ~ trt * week"
DEFAULT_SIZES = (60, 1_000, 10_000, 100_000)


def timed(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def fit_mixedlm(data: pd.DataFrame) -> Any:
    """statsmodels MixedLM: random intercept per subject, REML."""
    return smf.mixedlm(FORMULA, data, groups=data["id"]).fit(reml=True)


def fit_gee(data: pd.DataFrame) -> Any:
    """statsmodels GEE with an AR(1) working correlation over visit positions."""
    return smf.gee(FORMULA, "id", data, time=data["vis"].to_numpy() - 1, cov_struct=Autoregressive(grid=True)).fit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--quick", action="store_true", help="sizes 60 and 1,000 only")
    parser.add_argument("--peer-max", type=int, default=10_000, help="largest size for MixedLM/GEE")
    parser.add_argument("--seed", type=int, default=2013)
    args = parser.parse_args(argv)
    sizes = [60, 1_000] if args.quick else args.sizes

    header = f"{'subjects':>9} {'obs':>8} {'cov':>4} {'ours s':>8} {'peak MB':>8} {'MixedLM s':>12} {'GEE AR s':>12}"
    print(header)
    print("-" * len(header))
    for n in sizes:
        data = simulate_trial(n, seed=args.seed)
        repeat = 5 if n <= 1_000 else 1
        peers: dict[str, str] = {}
        if n <= args.peer_max:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mixed = timed(lambda data=data: fit_mixedlm(data), repeat)
                gee = timed(lambda data=data: fit_gee(data), repeat)
            peers = {"mixed": f"{mixed:.3f}", "gee": f"{gee:.3f}"}
        else:
            peers = {"mixed": f"skipped(>{args.peer_max})", "gee": f"skipped(>{args.peer_max})"}
        for cov in ("ar1", "un"):

            def fit(cov: str = cov, data: pd.DataFrame = data) -> Any:
                return fit_mmrm(data, FORMULA, subject="id", visit="vis", covariance=cov)

            seconds = timed(fit, repeat)
            mem = peak_mb(fit)
            print(
                f"{n:>9,} {len(data):>8,} {cov:>4} {seconds:>8.3f} {mem:>8.1f} {peers['mixed']:>12} {peers['gee']:>12}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
