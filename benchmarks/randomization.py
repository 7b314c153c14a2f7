"""Allocation throughput and latency under 20 concurrent clients, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/randomization.py [--clients 20] [--participants 400] [--only sqlite|postgres]
                                                 [--mode processes|threads|both]

Each backend runs in its own process against a throwaway database: a SQLite file in a temporary
directory, and a PostgreSQL database `stratum_bench` (created and dropped; server from
BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432). Each client has its own connection and
calls `participant_randomize`, the same service the pages use (all the work of a real allocation:
locks, hash check, audit, visit schedule). Clients are processes (like web workers) and, for
comparison, threads of one process (which also compete for the GIL). Run it with --clients 1 too:
on a small machine the 20-client latency is mostly queueing for the CPU, not for the locks.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
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
PG_DB = "stratum_bench"


def child(clients: int, participants: int, mode: str) -> None:
    """Runs inside the per-backend process: DATABASE_URL is already set."""
    sys.path.insert(0, str(ROOT))
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
    randomization_list_create(by=unblinded, per_stratum=participants // 4 + 8)
    today = date.today()
    strata = [("F", 3.4), ("M", 3.4), ("F", 1.2), ("M", 1.2)]
    people = []
    for i in range(participants):
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
    connections.close_all()

    ids = [p.pk for p in people]
    if mode == "threads":
        latencies, errors, wall = _measure_threads(ids, coordinator.pk, clients)
    else:
        latencies, errors, wall = _measure_processes(ids, coordinator.pk, clients)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{connection.vendor:<10} {mode:<9} clients={clients} allocations={len(latencies)} errors={len(errors)} "
        f"wall={wall:.2f}s throughput={len(latencies) / wall:.1f}/s "
        f"p50={q[49] * 1000:.0f}ms p95={q[94] * 1000:.0f}ms max={max(latencies) * 1000:.0f}ms"
    )
    if errors:
        print("  first error:", errors[0])


def _randomize_timed(participant_id: int, user_id: int) -> float:
    from django.contrib.auth import get_user_model

    from trial.participants.models import Participant
    from trial.randomization.services import participant_randomize

    user = get_user_model().objects.get(pk=user_id)
    participant = Participant.objects.get(pk=participant_id)
    t0 = time.perf_counter()
    participant_randomize(participant=participant, by=user)
    return time.perf_counter() - t0


def _measure_threads(ids: list[int], user_id: int, clients: int) -> tuple[list[float], list[str], float]:
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
                    dt = _randomize_timed(pid, user_id)
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


def _process_client(todo: Any, results: Any, barrier: Any, user_id: int) -> None:
    from django.db import connections

    connections.close_all()  # never share the parent's connection across fork
    barrier.wait()
    while True:
        try:
            pid = todo.get_nowait()
        except queue.Empty:
            break
        try:
            results.put(("ok", _randomize_timed(pid, user_id)))
        except Exception as exc:
            results.put(("error", repr(exc)))
    connections.close_all()


def _measure_processes(ids: list[int], user_id: int, clients: int) -> tuple[list[float], list[str], float]:
    """Clients as separate processes, like web server workers: each has its own interpreter and connection."""
    import multiprocessing as mp

    from django.db import connections

    connections.close_all()
    ctx = mp.get_context("fork")
    todo, results, barrier = ctx.Queue(), ctx.Queue(), ctx.Barrier(clients + 1)
    for i in ids:
        todo.put(i)
    time.sleep(0.2)  # let the feeder thread fill the queue before workers test for empty
    procs = [ctx.Process(target=_process_client, args=(todo, results, barrier, user_id)) for _ in range(clients)]
    for proc in procs:
        proc.start()
    barrier.wait()
    start = time.perf_counter()
    out = [results.get() for _ in ids]
    wall = time.perf_counter() - start
    for proc in procs:
        proc.join()
    return [v for k, v in out if k == "ok"], [v for k, v in out if k == "error"], wall


def run(backend: str, clients: int, participants: int, mode: str) -> None:
    env = os.environ.copy()
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
            _spawn(env, clients, participants, mode)
        return
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    try:
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
        _spawn(env, clients, participants, mode)
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def _spawn(env: dict[str, str], clients: int, participants: int, mode: str) -> None:
    subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--clients",
            str(clients),
            "--participants",
            str(participants),
            "--mode",
            mode,
        ],
        env=env,
        check=True,
        cwd=ROOT,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--participants", type=int, default=400)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--mode", choices=["processes", "threads", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.clients, args.participants, args.mode)
        return
    modes = ["processes", "threads"] if args.mode == "both" else [args.mode]
    for backend in [args.only] if args.only else ["sqlite", "postgres"]:
        for mode in modes:
            run(backend, args.clients, args.participants, mode)


if __name__ == "__main__":
    main()
