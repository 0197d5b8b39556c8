"""Throughput of background negotiations on PostgreSQL + Redis.

Runs N negotiations (default 500) of the shipped three-issue procurement
playbook, with all its policies, through W worker processes (default 2), and
prints: offers committed per second, negotiations per minute, p50/p95 round
latency, worker RSS at start and end, and — measured in the same run — the
rate of single-row insert transactions PostgreSQL itself sustains here (the
ceiling for one committed round). Then, through the same workers, the Celery
floor: chains of no-op tasks that each enqueue the next (benchmarks/hop_tasks.py),
one hop per round: what one task per round costs before any work is done.

Usage (services must be up; uses its own database and Redis db 3):

    .venv/bin/python benchmarks/throughput.py [--count 500] [--workers 2] [--concurrency 1]

--workers 1 --concurrency 2 runs the Procfile's layout instead: one worker
whose prefork pool has two processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "negotiator_bench_throughput"
BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/3")


def rss_kib(pid: int) -> int:
    """Resident set of a process and its children (the prefork pool)."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        pids += [int(c) for c in children]
    except FileNotFoundError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total


def postgres_insert_ceiling(dsn: str, seconds: float = 5.0) -> float:
    """Single-row INSERT transactions per second on one connection (autocommit)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_ceiling")
        conn.execute("CREATE TABLE bench_ceiling (id bigserial primary key, payload jsonb)")
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            conn.execute("INSERT INTO bench_ceiling (payload) VALUES (%s)", ['{"x": 1}'])
            n += 1
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_ceiling")
    return n / elapsed


def celery_floor(chains: int, hops: int, timeout: float) -> float:
    """No-op hops per second through the running workers (chains x hops tasks)."""
    from benchmarks.hop_tasks import DONE_KEY, done_counter, hop

    counter = done_counter()
    counter.delete(DONE_KEY)
    start = time.perf_counter()
    for _ in range(chains):
        hop.delay(hops)
    while int(counter.get(DONE_KEY) or 0) < chains:
        if time.perf_counter() - start > timeout:
            raise SystemExit("the Celery floor measurement timed out")
        time.sleep(0.05)
    counter.delete(DONE_KEY)
    return chains * hops / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="celery worker commands")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="prefork pool processes per worker"
    )
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    env = {**os.environ, "DATABASE_URL": f"{PG}/{DB_NAME}", "CELERY_BROKER_URL": BROKER}
    env["DJANGO_SETTINGS_MODULE"] = "negotiator.settings"
    env["LOG_LEVEL"] = "WARNING"
    # Production settings: DEBUG keeps every query in memory and slows each one.
    env["DEBUG"] = "0"
    env.setdefault("SECRET_KEY", "benchmark-only-" + "x" * 60)
    os.environ.update(env)

    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)

    import django

    django.setup()
    from django.db.models import Count, Max

    from negotiator.celery import app
    from negotiator.models import FINAL_STATUSES, Negotiation, NegotiationStatus, Offer
    from negotiator.playbook_io import playbook_import
    from negotiator.services.lifecycle import negotiation_create

    app.control.purge()
    playbook = playbook_import(json.loads((REPO / "playbooks" / "procurement.json").read_text()))
    print(
        f"machine: {os.cpu_count()} cores; playbook '{playbook.name}' (3 issues, "
        f"{playbook.policies.filter(active=True).count()} policies); {args.count} negotiations, "
        f"{args.workers} worker(s) x {args.concurrency} pool process(es)"
    )

    ceiling = postgres_insert_ceiling(f"{PG}/{DB_NAME}")
    print(f"PostgreSQL single-row insert transactions: {ceiling:,.0f}/s (one connection)")

    logs = [Path(f"/tmp/negotiator-bench-worker{i}.log") for i in range(args.workers)]
    command = [
        py,
        "-m",
        "celery",
        "-A",
        "negotiator",
        "worker",
        f"--concurrency={args.concurrency}",
    ]
    command += ["--pool=prefork", "--without-gossip", "--without-mingle", "--loglevel=INFO"]
    command += ["--include=benchmarks.hop_tasks"]
    workers = []
    for i, log in enumerate(logs):
        with open(log, "w") as out:
            workers.append(
                subprocess.Popen(
                    [*command, f"--hostname=bench{i}@%h"],
                    cwd=REPO,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    try:
        time.sleep(4)  # let workers boot
        rss_start = [rss_kib(w.pid) for w in workers]
        settled = FINAL_STATUSES | {NegotiationStatus.ESCALATED, NegotiationStatus.PENDING_APPROVAL}
        start = time.perf_counter()
        ids = [negotiation_create(playbook=playbook, seed=i).pk for i in range(args.count)]
        enqueued = time.perf_counter() - start
        rss_samples = []  # (seconds since start, [KiB per worker])
        while True:
            open_count = Negotiation.objects.filter(pk__in=ids).exclude(status__in=settled).count()
            rss_samples.append((time.perf_counter() - start, [rss_kib(w.pid) for w in workers]))
            if open_count == 0:
                break
            if time.perf_counter() - start > args.timeout:
                raise SystemExit(f"timed out with {open_count} negotiations still open")
            time.sleep(0.5)
        elapsed = time.perf_counter() - start
        rss_end = [rss_kib(w.pid) for w in workers]
        rounds_run = sum(
            Negotiation.objects.filter(pk__in=ids).values_list("current_round", flat=True)
        )
        hop_rate = celery_floor(args.count, max(rounds_run // args.count, 1), args.timeout)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)

    offers = Offer.objects.filter(negotiation_id__in=ids).count()
    # Round latency: time between consecutive committed rounds of one negotiation
    # (task hop through Redis + the round's transaction).
    per_round = (
        Offer.objects.filter(negotiation_id__in=ids)
        .values("negotiation_id", "round")
        .annotate(at=Max("created_at"), n=Count("id"))
        .order_by("negotiation_id", "round")
    )
    latencies = []
    previous = {}
    for row in per_round:
        key = row["negotiation_id"]
        if key in previous:
            latencies.append((row["at"] - previous[key]).total_seconds() * 1000)
        previous[key] = row["at"]
    latencies.sort()
    outcomes = dict(
        Negotiation.objects.filter(pk__in=ids).values_list("status").annotate(n=Count("id"))
    )
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    # Service time of one round: what the worker logs for each run_round task.
    import re

    pattern = re.compile(r"run_round\[[^\]]+\] succeeded in ([0-9.]+)s")
    service = sorted(
        float(m.group(1)) * 1000 for log in logs for m in pattern.finditer(log.read_text())
    )
    s50 = statistics.median(service) if service else float("nan")
    s95 = service[int(0.95 * (len(service) - 1))] if service else float("nan")
    rate = offers / elapsed
    print(f"enqueue of {args.count} negotiations: {enqueued:.1f} s")
    print(f"wall time until all settled: {elapsed:.1f} s; outcomes: {outcomes}")
    print(f"offers committed: {offers} -> {rate:,.0f} offers/s")
    print(f"negotiations per minute: {args.count / elapsed * 60:,.0f}")
    print(
        f"round latency (one round's task run by a worker): p50 {s50:.1f} ms, p95 {s95:.1f} ms "
        f"({len(service)} tasks)"
    )
    print(
        f"round-to-round gap incl. queueing behind {args.count} negotiations: "
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms"
    )
    print(f"worker RSS KiB at start (idle): {rss_start}")
    for share in (0.25, 0.5, 0.75):
        at, rss = next((t, r) for t, r in rss_samples if t >= share * elapsed)
        print(f"worker RSS KiB at {share:.0%} of the run ({at:.0f} s): {rss}")
    print(f"worker RSS KiB at end: {rss_end}")
    offers_per_round = offers / max(rounds_run, 1)
    print(
        f"Celery floor (no-op task chains, one hop per round, same workers): {hop_rate:,.0f} "
        f"hops/s = {hop_rate * offers_per_round:,.0f} offers/s at {offers_per_round:.1f} "
        "offers per round, before any work"
    )
    print(
        f"offers/s as share of the PostgreSQL ceiling: {rate / ceiling:.0%} (target >= 50%); "
        f"the Celery floor alone is {hop_rate * offers_per_round / ceiling:.0%} of it"
    )
    print(f"offers/s as share of the Celery floor: {rate / (hop_rate * offers_per_round):.0%}")


if __name__ == "__main__":
    main()
