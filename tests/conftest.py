"""Shared fixtures: users, and real Celery worker subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from django.db import connections
from django.test import TransactionTestCase

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


_flush = TransactionTestCase._fixture_teardown


def _flush_past_append_only_triggers(self) -> None:
    # Transactional tests empty every table afterwards; the audit table refuses
    # TRUNCATE, so the test harness alone (connected as a superuser) turns
    # triggers off for the flush. The application has no such switch.
    connection = connections["default"]
    if connection.vendor != "postgresql":
        _flush(self)
        return
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        _flush(self)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET session_replication_role")


TransactionTestCase._fixture_teardown = _flush_past_append_only_triggers


def database_url_for(settings_dict: dict) -> str:
    """A DATABASE_URL pointing a subprocess at the database this test uses."""
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}" if password else user
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.log()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the pool's children too)."""
        if self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


@contextmanager
def celery_worker(
    tmp_path: Path,
    env: dict[str, str],
    *,
    pool: str = "solo",
    concurrency: int = 1,
    command: list[str] | None = None,
    inherit_env: bool = True,
) -> Iterator[WorkerProcess]:
    """Start a real `celery worker` subprocess; stop it (and its children) after.

    With inherit_env=False, `env` is the worker's whole environment.
    """
    base = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"} if inherit_env else {}
    full_env = {**base, **env}
    log_path = tmp_path / f"worker-{uuid.uuid4().hex[:8]}.log"
    args = command or [
        str(BIN / "celery"),
        "-A",
        "negotiator",
        "worker",
        "--loglevel=INFO",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args,
            cwd=REPO,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(proc, log_path)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def worker_env(transactional_db) -> dict[str, str]:
    """Env that points a worker subprocess at this test's PostgreSQL database."""
    from django.conf import settings
    from django.db import connection

    from negotiator.celery import app

    app.control.purge()  # leftovers of an earlier, interrupted run must not leak in
    return {
        "DATABASE_URL": database_url_for(connection.settings_dict),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll until predicate() is truthy; return its value or fail with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture(autouse=True)
def _fresh_worker_caches():
    """Each test starts with empty in-process caches of rows and engine setups."""
    from negotiator.services.worker_cache import worker_caches_clear

    worker_caches_clear()
    yield


def pytest_configure(config) -> None:
    """Tests hash passwords with a fast hasher: PBKDF2's million rounds per test
    user made a third of the suite's time. Production keeps Django's default."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    _own_redis_database_per_xdist_worker(settings)


def _own_redis_database_per_xdist_worker(settings) -> None:
    """Under pytest-xdist each test process has its own PostgreSQL test database
    (pytest-django's suffix) and here its own Redis database for the broker and the
    cache, so one process's Celery worker never takes another process's tasks."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not settings.CELERY_BROKER_URL.startswith("redis"):
        return
    from urllib.parse import urlparse, urlunparse

    from negotiator.celery import app

    def moved(url: str) -> str:
        parts = urlparse(url)
        base = int(parts.path.strip("/") or 0)
        return urlunparse(parts._replace(path=f"/{(base + 1 + int(worker[2:])) % 16}"))

    settings.CELERY_BROKER_URL = moved(settings.CELERY_BROKER_URL)
    app.conf.broker_url = settings.CELERY_BROKER_URL
    os.environ["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL  # for subprocesses too
    for alias in settings.CACHES.values():
        if str(alias.get("LOCATION", "")).startswith("redis"):
            alias["LOCATION"] = moved(alias["LOCATION"])
