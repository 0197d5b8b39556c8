"""Outside agents over A2A through the production web server.

N concurrent outside agents (default 200), each at its own seat of its own
negotiation, negotiate the shipped procurement playbook (all its policies)
with our built-in buyer over A2A JSON-RPC, through gunicorn on this machine,
PostgreSQL and Redis. Each agent reads its task (ListTasks) and then answers
every offer with SendMessage: a seeded conceding seller (its opening ask,
step and floor drawn per agent) that accepts once our price reaches its ask.

1. Paced: every agent waits 1-3 s (seeded) before each message, like a real
   counterpart, with the default rate limit (60 requests a minute per seat).
2. Closed loop: no waiting, each agent starting a fresh negotiation when one
   ends, for --closed-seconds: the most messages a second the server gives.
   The per-seat rate limit is raised for this phase (an agent without pauses
   exceeds 60 a minute by design).

Prints per phase: SendMessage messages/s, p50/p95/max time from sending an
outside message to receiving our reply (which carries our counteroffer), the
errors (HTTP or JSON-RPC), the server's CPU per request (gunicorn plus the
PostgreSQL backends serving it: what bounds the rate on an idle machine), and
the load average with the busiest other processes, since the machine may be
shared.

Usage (PostgreSQL and Redis up; uses its own database, by default
negotiator_bench_outside, and Redis db 4, or BENCH_BROKER):
    .venv/bin/python benchmarks/outside.py [--agents 200] [--workers 2] [--threads 4]
        [--database NAME] [--gunicorn-config FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "negotiator_bench_outside"  # --database replaces it (dropped and created)
SHARED_DATABASES = frozenset({"negotiator", "neg_lead", "postgres", "template0", "template1"})
BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/4")


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass
class Seller:
    """The seeded conceding seller (the tests' ConcedingSeller with drawn numbers)."""

    ask: int
    step: int
    floor: int
    fixed_hash: str

    def move(self, ours: dict) -> dict:
        if (
            ours.get("performative") in ("propose", "counter")
            and ours["terms"]["price"] >= self.ask
        ):
            return {"performative": "accept", "in_reply_to": int(ours["offer_id"])}
        move = {
            "performative": "counter",
            "terms": {"price": self.ask, "delivery_days": 20, "warranty_months": 12},
            "fixed_terms_hash": self.fixed_hash,
            "in_reply_to": int(ours["offer_id"]),
        }
        self.ask = max(self.floor, self.ask - self.step)
        return move


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_report() -> str:
    load = Path("/proc/loadavg").read_text().split()[:3]
    top = subprocess.run(
        ["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()[:6]
    busiest = ", ".join(" ".join(line.split()) for line in top)
    return f"load average {' '.join(load)}; busiest processes (%CPU): {busiest}"


def cpu_seconds(*pgrep_args: str) -> float:
    """CPU time (user + system) of the processes pgrep finds with these arguments."""
    pids = subprocess.run(
        ["pgrep", *pgrep_args], capture_output=True, text=True, check=False
    ).stdout.split()
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def server_cpu(server: subprocess.Popen) -> float:
    """The web side's CPU: our gunicorn's processes (its own process group) and the
    PostgreSQL backends serving this benchmark's database (they live as long as
    the server's connections)."""
    return cpu_seconds("-g", str(server.pid)) + cpu_seconds("-f", f"postgres: .*{DB_NAME}")


def quiet_wait(limit: float) -> None:
    """On a shared machine: wait (at most ``limit`` seconds) until no other process
    uses more than a third of a core, twice in a row, ten seconds apart."""
    deadline = time.monotonic() + limit
    calm = 0
    while time.monotonic() < deadline and calm < 2:
        busiest = subprocess.run(
            ["ps", "-eo", "pcpu", "--sort=-pcpu", "--no-headers"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        calm = calm + 1 if float(busiest[0] if busiest else 0) < 33 else 0
        if calm < 2:
            time.sleep(10)


def prepare(env: dict, count: int) -> list[str]:
    """A fresh database with the procurement playbook and ``count`` negotiations
    whose seller is an outside agent, our buyer's opening played; their tokens."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    import django

    django.setup()
    from negotiator.playbook_io import playbook_import
    from negotiator.services.lifecycle import negotiation_create
    from negotiator.services.rounds import negotiation_run_round
    from negotiator.services.scheduling import rounds_held
    from negotiator.services.seats import seat_credential_issue

    playbook = playbook_import(json.loads((REPO / "playbooks" / "procurement.json").read_text()))
    tokens = []
    with rounds_held():
        for i in range(count):
            negotiation = negotiation_create(
                playbook=playbook, seed=i, seats={"seller": "remote_agent"}
            )
            negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
            seller = negotiation.participants.get(role="seller")
            tokens.append(seat_credential_issue(participant=seller)[1])
    from django.db import connections

    connections.close_all()
    return tokens


def start_server(
    env: dict, port: int, workers: int, threads: int, rate: int, config: str = ""
) -> subprocess.Popen:
    server_env = {**env, "A2A_RATE_PER_MINUTE": str(rate)}
    args = [
        str(Path(sys.executable).parent / "gunicorn"),
        "negotiator.wsgi",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--log-level=warning",
        "--timeout=60",
        # counterparts pause 1-3 s between messages: keep their connections open
        "--keep-alive=75",
        *([f"--config={config}"] if config else []),
    ]
    proc = subprocess.Popen(args, cwd=REPO, env=server_env, start_new_session=True)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/.well-known/agent-card.json").status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)


async def call(http, url: str, token: str, method: str, params: dict, stats: Stats, timed: bool):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    headers = {"Authorization": f"Bearer {token}", "A2A-Version": "1.0"}
    start = time.perf_counter()
    try:
        response = await http.post(url, json=body, headers=headers)
    except Exception as exc:  # a benchmark counts every failure
        stats.errors.append(f"{method}: {type(exc).__name__}")
        return None
    elapsed = time.perf_counter() - start
    stats.requests += 1
    if response.status_code != 200:
        stats.errors.append(f"{method}: HTTP {response.status_code}")
        return None
    reply = response.json()
    if "error" in reply:
        stats.errors.append(f"{method}: {reply['error']['code']} {reply['error']['message'][:80]}")
        return None
    if timed:
        stats.latencies.append(elapsed)
    return reply["result"]


async def negotiate(http, url, token, rng, stats, *, paced: bool, deadline: float) -> None:
    result = await call(http, url, token, "ListTasks", {}, stats, timed=False)
    if result is None:
        return
    task = result["tasks"][0]
    space = task["metadata"]["space"]
    seller = Seller(
        ask=rng.choice(range(112_000, 119_000, 1000)),
        step=rng.choice([2000, 3000, 4000]),
        floor=rng.choice(range(94_000, 100_000, 1000)),
        fixed_hash=space["fixed_terms_hash"],
    )
    turn = 0
    while task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED" and time.monotonic() < deadline:
        if paced:
            await asyncio.sleep(rng.uniform(1.0, 3.0))
        move = seller.move(task["status"]["message"]["parts"][0]["data"])
        message = {
            "messageId": f"t{turn}",
            "role": "ROLE_USER",
            "taskId": task["id"],
            "parts": [{"data": move}, {"text": "Our price for this volume."}],
        }
        result = await call(http, url, token, "SendMessage", {"message": message}, stats, True)
        if result is None:
            return
        task = result["task"]
        turn += 1
    state = task["status"]["state"]
    stats.outcomes[state] = stats.outcomes.get(state, 0) + 1


async def phase(url: str, tokens: list[str], agents: int, seed: int, paced: bool, seconds: float):
    import httpx

    stats = Stats()
    pool = asyncio.Queue()
    for token in tokens:
        pool.put_nowait(token)
    limits = httpx.Limits(max_connections=agents, max_keepalive_connections=agents)
    deadline = time.monotonic() + seconds

    async def agent(i: int) -> None:
        rng = random.Random(seed * 100_003 + i)
        if paced:
            await asyncio.sleep(rng.uniform(0, 2.0))  # counterparts do not all start at once
        while not pool.empty() and time.monotonic() < deadline:
            await negotiate(
                http, url, pool.get_nowait(), rng, stats, paced=paced, deadline=deadline
            )
            if paced:
                return  # one negotiation each

    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        start = time.perf_counter()
        await asyncio.gather(*(agent(i) for i in range(agents)))
        elapsed = time.perf_counter() - start
    return stats, elapsed


def report(name: str, stats: Stats, elapsed: float, cpu: float) -> None:
    lat = sorted(stats.latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    print(f"\n{name}")
    print(
        f"  SendMessage answered: {len(lat)} in {elapsed:.1f} s = {len(lat) / elapsed:.1f} messages/s"
    )
    print(f"  all requests: {stats.requests} ({stats.requests / elapsed:.1f}/s)")
    print(
        f"  outside message -> our reply: p50 {q[49] * 1000:.0f} ms, "
        f"p95 {q[94] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms"
        if lat
        else "  no replies"
    )
    print(f"  negotiations ended: {stats.outcomes}")
    if lat:
        per = cpu / stats.requests
        print(
            f"  server CPU (gunicorn + PostgreSQL backends): {cpu:.1f} s = {per * 1000:.1f} ms a "
            f"request; on {os.cpu_count()} idle cores at most {os.cpu_count() / per:.0f} requests/s"
        )
    kinds: dict[str, int] = {}
    for error in stats.errors:
        kinds[error] = kinds.get(error, 0) + 1
    print(f"  errors: {len(stats.errors)} {kinds if kinds else ''}")


def main() -> None:
    global DB_NAME
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--paced-seconds", type=float, default=180, help="paced phase's limit")
    parser.add_argument("--closed-seconds", type=float, default=30)
    parser.add_argument("--closed-negotiations", type=int, default=0, help="default 3 per agent")
    parser.add_argument(
        "--wait-quiet", type=float, default=0, help="wait up to this long for an idle machine"
    )
    parser.add_argument(
        "--database", default=DB_NAME, help=f"database to (re)create, default {DB_NAME}"
    )
    parser.add_argument("--gunicorn-config", default="", help="a gunicorn config file to pass")
    args = parser.parse_args()
    if not args.database.replace("_", "").isalnum() or args.database in SHARED_DATABASES:
        raise SystemExit(f"--database {args.database!r}: a dedicated name (letters, digits, _)")
    DB_NAME = args.database
    env = {**os.environ, "DATABASE_URL": f"{PG}/{DB_NAME}", "CELERY_BROKER_URL": BROKER}
    env.update(
        DJANGO_SETTINGS_MODULE="negotiator.settings",
        LOG_LEVEL="WARNING",
        DEBUG="0",  # production settings: DEBUG keeps every query in memory
        ALLOWED_HOSTS="127.0.0.1",
    )
    env.setdefault("SECRET_KEY", "benchmark-only-" + "x" * 60)
    os.environ.update(env)
    closed_count = args.closed_negotiations or 3 * args.agents
    print(f"preparing {args.agents + closed_count} negotiations ...", flush=True)
    tokens = prepare(env, args.agents + closed_count)
    subprocess.run(["redis-cli", "-u", BROKER, "flushdb"], capture_output=True, check=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}/a2a/"
    print(
        f"gunicorn: {args.workers} workers x {args.threads} threads (gthread); "
        f"{args.agents} agents; {os.cpu_count()} cores"
    )
    quiet_wait(args.wait_quiet)
    print(f"before: {load_report()}")
    server = start_server(env, port, args.workers, args.threads, 60, args.gunicorn_config)
    try:
        cpu = server_cpu(server)
        stats, elapsed = asyncio.run(
            phase(url, tokens[: args.agents], args.agents, args.seed, True, args.paced_seconds)
        )
        cpu = server_cpu(server) - cpu
        print(f"during the paced phase's end: {load_report()}")
    finally:
        stop_server(server)
    report(f"1. paced (1-3 s between messages), {args.agents} agents", stats, elapsed, cpu)
    quiet_wait(args.wait_quiet)
    print(f"\nbefore the closed loop: {load_report()}")
    server = start_server(env, port, args.workers, args.threads, 1_000_000, args.gunicorn_config)
    try:
        cpu = server_cpu(server)
        stats, elapsed = asyncio.run(
            phase(url, tokens[args.agents :], args.agents, args.seed, False, args.closed_seconds)
        )
        cpu = server_cpu(server) - cpu
        print(f"\nduring the closed loop's end: {load_report()}")
    finally:
        stop_server(server)
    report(f"2. closed loop (no waiting), {args.agents} agents", stats, elapsed, cpu)


if __name__ == "__main__":
    main()
