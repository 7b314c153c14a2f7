"""Allocation throughput and latency under concurrent clients, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/randomization.py [--clients 20] [--participants 400] [--only sqlite|postgres]
                                                 [--mode processes|threads|both]
    .venv/bin/python benchmarks/randomization.py --compare-with [REF] [--rounds 2]   # before/after, one run

`--compare-with REF` (default 33b10a2, the commit before the allocation path was made bulk) checks
REF out into a temporary git worktree, runs the same measurements against that code and against
this one, one after the other, and prints them side by side. On PostgreSQL: one client calling the
randomization service alone (`participant_randomize`), then one and 40 clients enrolling
(`participant_enrol`: the allocation and the visit schedule, what the Randomize page does); on
SQLite: enrolments at 1 and 10 clients. For each: p50, p95 and allocations per second. Only the
trial code differs between the two columns: this file does the measuring in both.

Each backend runs in its own process against a throwaway database: a SQLite file in a temporary
directory, and a PostgreSQL database `stratum_bench` (created and dropped; server from
BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432; BENCH_PG_DB names another database).
Each client has its own connection and calls `participant_enrol`, the same service the pages use
(all the work of a real allocation: locks, hash check, audit, visit schedule). Clients are
processes (like web workers) and, for comparison, threads of one process (which also compete for
the GIL). Run it with --clients 1 too: on a small machine the latency under many clients is mostly
queueing for the CPU, not for the locks.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
PG_DB = os.environ.get("BENCH_PG_DB", "stratum_bench")
# The commit before the allocation path was made bulk: what --compare-with measures against by default.
DEFAULT_REF = "33b10a2"


def child(clients_list: list[int], calls: list[str], participants: int, mode: str, root: Path, as_json: bool) -> None:
    """Runs inside the per-backend process: DATABASE_URL is already set; `root` is the code to measure."""
    os.chdir(root)
    sys.path.insert(0, str(root))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trial.settings.test")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from trial.accounts.users import demo_users_ensure
    from trial.demo.examples import ELIGIBLE_SCREENING
    from trial.participants.services import consent_record, participant_screen
    from trial.protocol.selectors import protocol
    from trial.protocol.services import protocol_load
    from trial.randomization.services import randomization_list_create

    call_command("migrate", verbosity=0)
    trial = protocol_load(config=protocol())
    site = trial.sites.first()
    users = demo_users_ensure()
    coordinator = next(u for u in users.values() if u.username == "coordinator")
    unblinded = next(u for u in users.values() if u.username == "unblinded")
    total = participants * len(clients_list)
    randomization_list_create(by=unblinded, per_stratum=total // 4 + 8)
    today = date.today()
    strata = [("F", 3.4), ("M", 3.4), ("F", 1.2), ("M", 1.2)]
    people = []
    for i in range(total):
        sex, crp = strata[i % 4]
        p = participant_screen(
            site=site,
            sex=sex,
            date_of_birth=date(today.year - 40, 1, 15),
            by=coordinator,
            screening=ELIGIBLE_SCREENING | {"screening_date": today - timedelta(days=3), "screening_crp_mg_l": crp},
        )
        consent_record(participant=p, consent_date=today - timedelta(days=3), by=coordinator)
        people.append(p)
    vendor = connection.vendor
    connections.close_all()

    for n, (clients, call) in enumerate(zip(clients_list, calls, strict=True)):
        ids = [p.pk for p in people[n * participants : (n + 1) * participants]]
        if mode == "threads":
            latencies, errors, wall = _measure_threads(ids, coordinator.pk, clients, call)
        else:
            latencies, errors, wall = _measure_processes(ids, coordinator.pk, clients, call)
        q = statistics.quantiles(latencies, n=100)
        result = {
            "backend": vendor,
            "call": call,
            "mode": mode,
            "clients": clients,
            "allocations": len(latencies),
            "errors": len(errors),
            "wall_s": wall,
            "throughput": len(latencies) / wall,
            "p50_ms": q[49] * 1000,
            "p95_ms": q[94] * 1000,
            "max_ms": max(latencies) * 1000,
        }
        if as_json:
            print("RESULT " + json.dumps(result), flush=True)
        else:
            print(
                f"{vendor:<10} {mode:<9} {call:<9} clients={clients} allocations={len(latencies)} errors={len(errors)} "
                f"wall={wall:.2f}s throughput={len(latencies) / wall:.1f}/s "
                f"p50={q[49] * 1000:.0f}ms p95={q[94] * 1000:.0f}ms max={max(latencies) * 1000:.0f}ms"
            )
        if errors:
            print("  first error:", errors[0], file=sys.stderr)


def _randomize_timed(participant_id: int, user_id: int, call: str) -> float:
    """One allocation: `enrol` is what the Randomize page does (allocation and visit schedule in one
    transaction); `randomize` is the randomization service alone, without the schedule."""
    from django.contrib.auth import get_user_model

    from trial.participants.models import Participant
    from trial.randomization.services import participant_randomize
    from trial.workspace.services import participant_enrol

    service = participant_enrol if call == "enrol" else participant_randomize
    user = get_user_model().objects.get(pk=user_id)
    participant = Participant.objects.get(pk=participant_id)
    t0 = time.perf_counter()
    service(participant=participant, by=user)
    return time.perf_counter() - t0


def _measure_threads(ids: list[int], user_id: int, clients: int, call: str) -> tuple[list[float], list[str], float]:
    """Clients as threads of one process: they also compete for Python's GIL, which stretches lock hold times."""
    from django.db import connections

    todo: queue.Queue = queue.Queue()
    for i in ids:
        todo.put(i)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client() -> None:
        barrier.wait()
        try:
            while True:
                try:
                    pid = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    dt = _randomize_timed(pid, user_id, call)
                except Exception as exc:
                    with lock:
                        errors.append(repr(exc))
                    continue
                with lock:
                    latencies.append(dt)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - start


def _process_client(todo: Any, results: Any, barrier: Any, user_id: int, call: str) -> None:
    from django.db import connections

    connections.close_all()  # never share the parent's connection across fork
    barrier.wait()
    while True:
        try:
            pid = todo.get_nowait()
        except queue.Empty:
            break
        try:
            results.put(("ok", _randomize_timed(pid, user_id, call)))
        except Exception as exc:
            results.put(("error", repr(exc)))
    connections.close_all()


def _measure_processes(ids: list[int], user_id: int, clients: int, call: str) -> tuple[list[float], list[str], float]:
    """Clients as separate processes, like web server workers: each has its own interpreter and connection."""
    import multiprocessing as mp

    from django.db import connections

    connections.close_all()
    ctx = mp.get_context("fork")
    todo, results, barrier = ctx.Queue(), ctx.Queue(), ctx.Barrier(clients + 1)
    for i in ids:
        todo.put(i)
    time.sleep(0.2)  # let the feeder thread fill the queue before workers test for empty
    procs = [ctx.Process(target=_process_client, args=(todo, results, barrier, user_id, call)) for _ in range(clients)]
    for proc in procs:
        proc.start()
    barrier.wait()
    start = time.perf_counter()
    out = [results.get() for _ in ids]
    wall = time.perf_counter() - start
    for proc in procs:
        proc.join()
    return [v for k, v in out if k == "ok"], [v for k, v in out if k == "error"], wall


def run(
    backend: str,
    clients: list[int],
    participants: int,
    mode: str,
    root: Path = ROOT,
    as_json: bool = False,
    calls: list[str] | None = None,
) -> list[dict[str, Any]]:
    calls = calls or ["enrol"] * len(clients)
    env = os.environ.copy()
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
            return _spawn(env, clients, calls, participants, mode, root, as_json)
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    try:
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
        return _spawn(env, clients, calls, participants, mode, root, as_json)
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def _spawn(
    env: dict[str, str], clients: list[int], calls: list[str], participants: int, mode: str, root: Path, as_json: bool
) -> list[dict[str, Any]]:
    args = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--clients",
        ",".join(str(c) for c in clients),
        "--calls",
        ",".join(calls),
        "--participants",
        str(participants),
        "--mode",
        mode,
        "--root",
        str(root),
    ]
    if not as_json:
        subprocess.run(args, env=env, check=True, cwd=root)
        return []
    out = subprocess.run([*args, "--json"], env=env, check=True, cwd=root, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line[len("RESULT ") :]) for line in out.splitlines() if line.startswith("RESULT ")]


# What --compare-with measures: (backend, [(call, clients), ...], participants per measurement).
COMPARISON = [
    ("postgres", [("randomize", 1), ("enrol", 1), ("enrol", 40)], 320),
    ("sqlite", [("enrol", 1), ("enrol", 10)], 200),
]


def _medians(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per measurement, the median of each number over the rounds."""
    out = []
    for same in zip(*runs, strict=True):
        row = dict(same[0])
        for key in ("throughput", "p50_ms", "p95_ms", "max_ms", "wall_s"):
            row[key] = statistics.median(m[key] for m in same)
        row["errors"] = sum(m["errors"] for m in same)
        out.append(row)
    return out


def compare(ref: str, only: str | None, rounds: int) -> None:
    """Measure REF (in a temporary worktree) and this code in one run; print them side by side.

    Each round measures both, the order alternating from round to round, and the table gives each
    measure's median over the rounds: on a shared machine the load drifts within minutes."""
    with tempfile.TemporaryDirectory(prefix="stratum-bench-ref-") as tmp:
        ref_root = Path(tmp) / "ref"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(ref_root), ref], cwd=ROOT, check=True)
        try:
            rows = []
            rounds_seen: list[tuple[tuple[dict[str, Any], dict[str, Any]], ...]] = []
            for backend, plan, participants in COMPARISON:
                if only and backend != only:
                    continue
                calls, clients = [c for c, _ in plan], [n for _, n in plan]
                measured: dict[str, list[list[dict[str, Any]]]] = {"before": [], "after": []}
                for r in range(rounds):
                    order = [("before", ref_root), ("after", ROOT)]
                    for side, root in order if r % 2 == 0 else order[::-1]:
                        print(f"round {r + 1}: {backend} {plan}: {side} ...", file=sys.stderr, flush=True)
                        measured[side].append(
                            run(backend, clients, participants, "processes", root, as_json=True, calls=calls)
                        )
                rows += list(zip(_medians(measured["before"]), _medians(measured["after"]), strict=True))
                per_round = [list(zip(measured["before"][r], measured["after"][r], strict=True)) for r in range(rounds)]
                rounds_seen += list(zip(*per_round, strict=True))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(ref_root)], cwd=ROOT, check=False)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    print(
        f"\nAllocations, processes as clients: before = {ref}, after = this tree ({head}); median of {rounds} rounds."
    )
    print("randomize: participant_randomize alone; enrol: participant_enrol (allocation + visit schedule, the page's).")
    print(f"{'backend':<10} {'call':<9} {'clients':>7} {'measure':<16} {'before':>10} {'after':>10} {'ratio':>7}")
    for b, a in rows:
        measures = [("p50 ms", "p50_ms", False), ("p95 ms", "p95_ms", False), ("allocations/s", "throughput", True)]
        for label, key, higher_is_better in measures:
            ratio = a[key] / b[key] if higher_is_better else b[key] / a[key]
            print(
                f"{b['backend']:<10} {b['call']:<9} {b['clients']:>7} {label:<16} "
                f"{b[key]:>10.1f} {a[key]:>10.1f} {ratio:>6.1f}x"
            )
        if a["errors"] or b["errors"]:
            print(f"{'':<10} {'':<9} {'':>7} errors: before {b['errors']}, after {a['errors']}")
    print("ratio: how many times better after (lower latency, higher throughput).")
    # Each round on its own: on a shared machine the medians hide how far the rounds spread.
    print("\nEach round (in the order measured: round 1 before first, round 2 after first, and so on):")
    print(
        f"{'backend':<10} {'call':<9} {'clients':>7} {'round':>5} "
        f"{'p50 ms b/a':>17} {'allocations/s b/a':>19} {'ratio':>6}"
    )
    for per_round in rounds_seen:
        for r, (b, a) in enumerate(per_round, start=1):
            print(
                f"{b['backend']:<10} {b['call']:<9} {b['clients']:>7} {r:>5} "
                f"{b['p50_ms']:>8.1f} {a['p50_ms']:>8.1f} {b['throughput']:>9.1f} {a['throughput']:>9.1f} "
                f"{a['throughput'] / b['throughput']:>5.1f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="20", help="a number, or several: 1,40")
    parser.add_argument("--participants", type=int, default=400)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--mode", choices=["processes", "threads", "both"], default="both")
    parser.add_argument(
        "--calls", help="per client count: enrol (default, what the page does) or randomize (the service alone)"
    )
    parser.add_argument("--compare-with", nargs="?", const=DEFAULT_REF, metavar="REF")
    parser.add_argument("--rounds", type=int, default=2, help="with --compare-with: rounds of both (median)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    clients = [int(c) for c in str(args.clients).split(",")]
    calls = str(args.calls).split(",") if args.calls else ["enrol"] * len(clients)
    if len(calls) != len(clients) or not set(calls) <= {"enrol", "randomize"}:
        parser.error("--calls: enrol or randomize, one per client count")
    if args.child:
        child(clients, calls, args.participants, args.mode, args.root, args.json)
        return
    if args.compare_with:
        compare(args.compare_with, args.only, args.rounds)
        return
    modes = ["processes", "threads"] if args.mode == "both" else [args.mode]
    for backend in [args.only] if args.only else ["sqlite", "postgres"]:
        for mode in modes:
            run(backend, clients, args.participants, mode, calls=calls)


if __name__ == "__main__":
    main()
