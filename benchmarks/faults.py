"""Crash recovery: kill -9 workers during a run and compare with a fault-free run.

Plays N negotiations (default 200) of the shipped procurement playbook twice
through real Celery workers on PostgreSQL + Redis, with the same seeds: once
without faults (the reference), once while a worker is killed with SIGKILL K
times (default 10) and restarted, the sweeper running every second as beat runs
it (here with a 10 s threshold instead of 60 s). Seeds rotate through five
strategy pairs so that the negotiations end in different ways. It then compares, seed by
seed, everything a negotiation decided: status, cause and reason, rounds,
agreed terms, deal value, every offer (round, sender, performative, terms,
rationale), the approval request's route, and checks that every audit chain of
the faulty run verifies. Exit status 0 only when all N are identical.

Usage (services must be up; uses its own database and Redis db 4):

    .venv/bin/python benchmarks/faults.py [--count 200] [--kills 10] [--workers 2]

The suite's tests/negotiator/test_faults.py is the fast version of this (one
kill during 8 negotiations); this is the full check the README quotes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
# Strategy pairs (buyer, seller) by seed, so the runs end in every way: agreed,
# escalated at the round limit (the playbook hands its limits to a person), ...
PAIRS = (
    ("default", "default"),
    ("default", "conceder"),
    ("hardliner", "hardliner"),
    ("boulware", "linear"),
    ("tit-for-tat", "tradeoff"),
)
STALE_AFTER_SECONDS = 10.0  # the sweeper's threshold here (60 s in production)
DB_NAME = "negotiator_bench_faults"
BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/4")


class Workers:
    """Celery worker processes, each in its own process group (killed whole)."""

    def __init__(self, env: dict[str, str], count: int) -> None:
        self.env = env
        self.started = 0
        self.logs: dict[int, Path] = {}
        self.killed: list[Path] = []
        self.procs = [self._start() for _ in range(count)]

    def _start(self) -> subprocess.Popen:
        self.started += 1
        path = Path(f"/tmp/negotiator-bench-faults-worker{self.started}.log")
        log = open(path, "w")  # noqa: SIM115
        command = [sys.executable, "-m", "celery", "-A", "negotiator", "worker"]
        command += ["--pool=prefork", "--concurrency=1", "--without-gossip", "--without-mingle"]
        command += ["--loglevel=INFO", f"--hostname=faults{self.started}@%h"]
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.logs[proc.pid] = path
        return proc

    def kill_and_replace(self, index: int) -> None:
        """SIGKILL one worker and its pool (no warm shutdown), then start another."""
        proc = self.procs[index]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        self.killed.append(self.logs[proc.pid])
        self.procs[index] = self._start()

    def lost_in_flight(self) -> int:
        """Round tasks the killed workers had received and never finished."""
        received = re.compile(r"Task negotiator\.tasks\.run_round\[([0-9a-f-]+)\] received")
        finished = re.compile(
            r"Task negotiator\.tasks\.run_round\[([0-9a-f-]+)\] (succeeded|failed|retry)"
        )
        lost = 0
        for path in self.killed:
            text = path.read_text(errors="replace")
            lost += len(set(received.findall(text)) - {m[0] for m in finished.findall(text)})
        return lost

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def outcome(negotiation) -> dict:
    """Everything a negotiation decided, without ids or times."""
    from negotiator.models import Offer

    state = dict(negotiation.engine_state or {})
    offers = [
        (o.round, o.sender, o.performative, o.terms, o.rationale)
        for o in Offer.objects.filter(negotiation=negotiation).order_by("round", "id")
    ]
    request = negotiation.approval_requests.order_by("id").first()
    return {
        "status": negotiation.status,
        "reason": negotiation.outcome_reason,
        "cause": state.get("cause"),
        "engine_round": state.get("round"),
        "rounds": negotiation.current_round,
        "agreed_terms": negotiation.agreed_terms,
        "deal_value": negotiation.deal_value,
        "offers": offers,
        "route": request.route.name if request else None,
    }


def run(label: str, playbook, seeds: list[int], env, args, *, kills: int) -> tuple[dict, dict]:
    """Create the negotiations, let workers play them (killing `kills` times),
    and return each seed's outcome and the run's figures."""
    from negotiator.celery import app
    from negotiator.models import FINAL_STATUSES, Negotiation, NegotiationStatus
    from negotiator.services.lifecycle import negotiation_create
    from negotiator.services.sweeper import negotiations_sweep

    settled = FINAL_STATUSES | {NegotiationStatus.ESCALATED, NegotiationStatus.PENDING_APPROVAL}
    app.control.purge()
    workers = Workers(env, args.workers)
    rng = random.Random(args.kill_seed)
    swept = 0
    kill_times: list[float] = []
    try:
        time.sleep(4)  # let the workers boot
        start = time.perf_counter()
        ids = {
            seed: negotiation_create(
                playbook=playbook,
                seed=seed,
                title=f"{label} {seed}",
                strategies=dict(zip(("buyer", "seller"), PAIRS[seed % len(PAIRS)], strict=True)),
            ).pk
            for seed in seeds
        }
        next_kill = start + args.first_kill
        last_sweep = 0.0
        while True:
            now = time.perf_counter()
            open_count = (
                Negotiation.objects.filter(pk__in=ids.values()).exclude(status__in=settled).count()
            )
            if open_count == 0 and len(kill_times) >= kills:
                break
            if now - start > args.timeout:
                raise SystemExit(f"{label}: timed out with {open_count} negotiations open")
            if len(kill_times) < kills and now >= next_kill:
                if open_count == 0:
                    raise SystemExit(
                        f"{label}: all settled after {len(kill_times)} kills; "
                        "lower --kill-every so every kill lands during the run"
                    )
                workers.kill_and_replace(rng.randrange(args.workers))
                kill_times.append(now - start)
                next_kill = now + args.kill_every
            if now - last_sweep >= 1.0:
                swept += len(negotiations_sweep(stale_after_seconds=STALE_AFTER_SECONDS))
                last_sweep = now
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
    finally:
        workers.stop()
    results = {seed: outcome(Negotiation.objects.get(pk=pk)) for seed, pk in sorted(ids.items())}
    figures = {
        "elapsed": elapsed,
        "kills": kill_times,
        "swept": swept,
        "ids": ids,
        "workers_started": workers.started,
        "lost": workers.lost_in_flight(),
    }
    return results, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--first-kill", type=float, default=3.0, help="seconds before the first")
    parser.add_argument("--kill-every", type=float, default=2.5, help="seconds between kills")
    parser.add_argument("--kill-seed", type=int, default=1, help="which worker dies when")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()

    env = {**os.environ, "DATABASE_URL": f"{PG}/{DB_NAME}", "CELERY_BROKER_URL": BROKER}
    env["DJANGO_SETTINGS_MODULE"] = "negotiator.settings"
    env["LOG_LEVEL"] = "WARNING"
    env["DEBUG"] = "0"
    env.setdefault("SECRET_KEY", "benchmark-only-" + "x" * 60)
    os.environ.update(env)

    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)

    import django

    django.setup()
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute
    from negotiator.audit import audit_verify_chain, chain_of
    from negotiator.playbook_io import playbook_import
    from negotiator.services.roles import roles_ensure

    roles_ensure()
    playbook = playbook_import(json.loads((REPO / "playbooks" / "procurement.json").read_text()))
    approvers = Group.objects.get(name="Approvers")
    ApprovalRoute.objects.create(
        name="Clean deals", condition_kind="always", decision="auto", order=0
    )
    ApprovalRoute.objects.create(
        name="Default", condition_kind="always", is_default=True, approver_group=approvers
    )
    seeds = list(range(args.count))
    print(
        f"machine: {os.cpu_count()} cores; {args.count} negotiations of '{playbook.name}', "
        f"{args.workers} workers (prefork, 1 process each)"
    )
    reference, ref_figures = run("reference", playbook, seeds, env, args, kills=0)
    print(f"fault-free run: {ref_figures['elapsed']:.1f} s")
    faulty, figures = run("faulty", playbook, seeds, env, args, kills=args.kills)
    kills = ", ".join(f"{t:.1f}" for t in figures["kills"])
    print(
        f"faulty run: {figures['elapsed']:.1f} s; {len(figures['kills'])} kill -9 at {kills} s; "
        f"{figures['workers_started'] - args.workers} replacement workers; "
        f"{figures['lost']} round tasks died with the killed workers (received, never finished); "
        f"the sweeper re-enqueued {figures['swept']} rounds that made no progress for "
        f"{STALE_AFTER_SECONDS:g} s (a round that was only queued runs once: duplicates are no-ops)"
    )
    differ = [seed for seed in seeds if reference[seed] != faulty[seed]]
    broken = [
        seed for seed, pk in figures["ids"].items() if not audit_verify_chain(chain_of(pk)).ok
    ]
    statuses: dict[str, int] = {}
    for result in faulty.values():
        statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    offers = sum(len(r["offers"]) for r in faulty.values())
    print(f"outcomes (faulty run): {statuses}; {offers} offers")
    print(f"identical to the fault-free run: {args.count - len(differ)}/{args.count}")
    print(f"audit chains verified (faulty run): {args.count - len(broken)}/{args.count}")
    for seed in differ[:5]:
        for key in reference[seed]:
            if reference[seed][key] != faulty[seed][key]:
                print(
                    f"  seed {seed}: {key} differs: {reference[seed][key]!r} vs {faulty[seed][key]!r}"
                )
    if differ or broken or len(figures["kills"]) < args.kills:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
