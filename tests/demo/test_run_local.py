"""`make run`'s last step, `manage.py run_local`, as a person uses it in a terminal:
the banner appears only once the server answers, and Ctrl-C stops every process
and exits 0 without tracebacks. Runs on the embedded default (SQLite + filesystem
broker) in a pseudo-terminal, exactly like a developer's shell."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO

pytestmark = pytest.mark.worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _embedded_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["NEGOTIATOR_VAR_DIR"] = str(tmp_path / "var")
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


def _read_until(fd: int, needle: str, timeout: float, seen: list[str]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536).decode(errors="replace")
            except OSError:
                return needle in "".join(seen)
            if not chunk:
                return needle in "".join(seen)
            seen.append(chunk)
            if needle in "".join(seen):
                return True
    return False


def test_run_local_announces_once_serving_and_stops_cleanly_on_ctrl_c(tmp_path):
    env = _embedded_env(tmp_path)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert migrate.returncode == 0, migrate.stderr
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal session like a developer's shell
        os.chdir(REPO)
        os.execve(
            sys.executable, [sys.executable, "manage.py", "run_local", "--port", str(port)], env
        )
    seen: list[str] = []
    try:
        assert _read_until(fd, "Negotiator is running at", 120, seen), "".join(seen)[-3000:]
        # Announced only once it answers: the login page is there right now.
        with urllib.request.urlopen(url + "login/", timeout=5) as response:
            assert response.status == 200
        os.write(fd, b"\x03")  # Ctrl-C, as the keyboard sends it
        _read_until(fd, "stopped.", 60, seen)
        _, status = os.waitpid(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    output = "".join(seen)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, output[-3000:]
    assert "stopped." in output
    assert "Traceback" not in output, output[-3000:]
    assert "Service Unavailable" not in output, output[-3000:]  # no 503s while starting
    assert "log in as admin" in output
    # Nothing listens any more.
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "healthz", timeout=2)


def test_make_run_installs_no_test_tools():
    runtime = (REPO / "requirements.txt").read_text().lower()
    for tool in ("pytest", "hypothesis", "playwright", "ruff"):
        assert tool not in runtime
    dev = (REPO / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev
    makefile = (REPO / "Makefile").read_text()
    run_line = next(line for line in makefile.splitlines() if line.startswith("run:"))
    assert run_line.split(":", 1)[1].split() == ["$(BIN)/.installed"]
