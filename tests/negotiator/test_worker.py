"""A real Celery worker: against Redis + PostgreSQL, and the embedded default."""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
import uuid

import pytest

from negotiator.models import WorkerHeartbeat
from tests.conftest import BIN, REPO, celery_worker, wait_for

pytestmark = pytest.mark.worker


def test_worker_on_redis_and_postgres_writes_to_the_database(worker_env, tmp_path):
    from negotiator.tasks import record_heartbeat

    token = uuid.uuid4().hex
    with celery_worker(tmp_path, worker_env):
        record_heartbeat.delay(token)
        beat = wait_for(lambda: WorkerHeartbeat.objects.filter(token=token).first())
    assert beat.hostname


def _procfile_command(name: str) -> str:
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} process in Procfile")


def test_embedded_default_needs_no_server(tmp_path):
    """No DATABASE_URL, no CELERY_BROKER_URL: SQLite + filesystem broker under var/."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["NEGOTIATOR_VAR_DIR"] = str(tmp_path / "var")
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env["WORKER_LOG_LEVEL"] = "INFO"  # `make run` keeps it at WARNING; the test waits for "ready"
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert migrate.returncode == 0, migrate.stderr

    token = uuid.uuid4().hex
    # The worker starts exactly as `make run` starts it: the Procfile's line.
    command = ["bash", "-c", "exec " + _procfile_command("worker").replace("%h", "embedded")]
    with celery_worker(tmp_path, env, command=command, inherit_env=False):
        enqueue = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                f"from negotiator.tasks import record_heartbeat; record_heartbeat.delay({token!r})",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert enqueue.returncode == 0, enqueue.stderr
        db_path = tmp_path / "var" / "negotiator.sqlite3"

        def landed() -> bool:
            with sqlite3.connect(db_path, timeout=5) as conn:
                row = conn.execute(
                    "SELECT hostname FROM negotiator_workerheartbeat WHERE token = ?", (token,)
                ).fetchone()
            return row is not None

        wait_for(landed, timeout=60, interval=0.5)
    assert (tmp_path / "var" / "broker" / "queue").is_dir()
    assert (tmp_path / "var" / "broker" / "control" / "celery.pidbox.exchange").is_file()
    assert shlex.split(_procfile_command("worker"))[0] == "celery"


def test_worker_keeps_one_database_connection_across_rounds(procurement, worker_env, tmp_path):
    """Celery's Django fixup would open a new PostgreSQL connection for every task
    (every round); CELERY_DB_REUSE_MAX keeps it. Sample the worker's backends while
    negotiations run: one connection serves them all."""
    import threading
    import time

    from django.db import connection

    from negotiator.models import FINAL_STATUSES, Negotiation, NegotiationStatus
    from negotiator.services.lifecycle import negotiation_create

    name = f"negotiator-test-{uuid.uuid4().hex[:8]}"
    separator = "&" if "?" in worker_env["DATABASE_URL"] else "?"
    env = {
        **worker_env,
        "DATABASE_URL": f"{worker_env['DATABASE_URL']}{separator}application_name={name}",
    }
    pids: set[int] = set()
    done = threading.Event()

    def sample() -> None:
        import psycopg

        dsn = worker_env["DATABASE_URL"]
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not done.is_set():
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [name]
                ).fetchall()
                pids.update(row[0] for row in rows)
                time.sleep(0.01)

    # Settled: ended, or waiting for a person (nothing is approved by default).
    settled = FINAL_STATUSES | {NegotiationStatus.ESCALATED, NegotiationStatus.PENDING_APPROVAL}
    ids = [negotiation_create(playbook=procurement, seed=i).pk for i in range(3)]
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with celery_worker(tmp_path, env):
            wait_for(
                lambda: (
                    Negotiation.objects.filter(pk__in=ids, status__in=settled).count() == len(ids)
                ),
                timeout=120,
            )
    finally:
        done.set()
        sampler.join(timeout=5)
    rounds = sum(n.current_round for n in Negotiation.objects.filter(pk__in=ids))
    assert rounds > 30
    assert pids, "the sampler never saw the worker's connection"
    assert len(pids) <= 2, f"{len(pids)} connections for {rounds} rounds"
    connection.close()
