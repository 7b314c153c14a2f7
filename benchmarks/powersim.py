"""Power simulation benchmark: simulated trials (simulate + fit_mmrm) per second, 1 and 2 worker processes.

    python benchmarks/powersim.py                 # 60 per arm, 48 trials per process count
    python benchmarks/powersim.py --n-per-arm 100 --sims 96 --workers 1 2 4

The assumptions come from the moderation model fitted to one simulated 60-participant trial shaped
like the reference one (analysis.stats.simulate), as a run fits it to the trial's data. The work is
cut into chunks exactly as the Celery chord cuts it (analysis.stats.powersim.plan_chunks) and the
chunks are run by a pool of N processes, as N Celery worker processes would run them (the broker's
own overhead, a few ms per chunk, is left out). One BLAS thread per process. Speed is reported
here, never asserted in tests.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.stats import powersim
from analysis.stats.simulate import simulate_crp_trial

_MODEL: powersim.PowerModel | None = None


def _init(model: dict[str, Any]) -> None:
    global _MODEL
    _MODEL = powersim.PowerModel.from_dict(model)


def _chunk(args: tuple[int, int, int, float]) -> int:
    n, first, count, threshold = args
    assert _MODEL is not None
    res = powersim.simulate_power_chunk(
        _MODEL, n_per_arm=n, crp_threshold_mg_l=threshold, first=first, count=count, seed=1
    )
    return len(res.p_values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-per-arm", type=int, default=60)
    parser.add_argument("--sims", type=int, default=48, help="simulated trials per process count")
    parser.add_argument("--threshold", type=float, default=3.0, help="hs-CRP enrolment threshold (mg/L)")
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a = parser.parse_args()
    res, crp = powersim.fit_moderation_model(simulate_crp_trial(60, seed=2013), active="IFX", control="PBO")
    model = powersim.PowerModel.from_fit(res, baseline_crp_mg_l=crp.tolist()).to_dict()
    plan = [(n, f, c, a.threshold) for n, f, c in powersim.plan_chunks([a.n_per_arm], a.sims, a.chunks)]
    print(
        f"power simulation: {a.sims} trials of {a.n_per_arm} per arm, hs-CRP > {a.threshold} mg/L, {len(plan)} chunks"
    )
    print(f"{'workers':>8} {'seconds':>9} {'trials/s':>9} {'speed-up':>9}")
    base = None
    ctx = mp.get_context("spawn")
    for workers in a.workers:
        with ctx.Pool(workers, initializer=_init, initargs=(model,)) as pool:
            pool.map(_chunk, [(a.n_per_arm, 0, 1, a.threshold)] * workers)  # warm up: imports, first fit
            t0 = time.perf_counter()
            done = sum(pool.map(_chunk, plan, chunksize=1))
            seconds = time.perf_counter() - t0
        rate = done / seconds
        base = base or rate
        print(f"{workers:>8} {seconds:>9.2f} {rate:>9.1f} {rate / base:>8.2f}x")
    print(f"cores available: {os.cpu_count()}")


if __name__ == "__main__":
    main()
