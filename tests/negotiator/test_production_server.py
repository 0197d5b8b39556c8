"""The production web server, started exactly as the README says (its gunicorn
line), against the test database with production settings: it serves the login
page with hashed static files and answers /healthz."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import BIN, REPO, database_url_for

pytestmark = pytest.mark.worker


def readme_gunicorn_command() -> list[str]:
    readme = (REPO / "README.md").read_text()
    line = next(
        line.strip()
        for line in readme.splitlines()
        if line.strip().startswith(".venv/bin/gunicorn negotiator.wsgi")
    )
    return shlex.split(line)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_readme_production_command_serves_the_product(transactional_db, tmp_path, settings):
    from django.db import connection

    port = _free_port()
    command = readme_gunicorn_command()
    command[0] = str(BIN / "gunicorn")
    bind = command.index("--bind")
    command[bind + 1] = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url_for(connection.settings_dict),
        "NEGOTIATOR_VAR_DIR": str(tmp_path / "var"),
        "AUDIT_CHECKPOINT_KEY": settings.AUDIT_CHECKPOINT_KEY or "",
    }
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert collect.returncode == 0, collect.stderr
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        status, body = 0, ""
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/login/")
                break
            except OSError:
                time.sleep(0.3)
        assert status == 200, log.read_text()[-3000:]
        assert 'name="password"' in body
        stylesheet = re.search(r'href="(/static/[^"]+\.css)"', body)
        assert stylesheet and re.search(r"\.[0-9a-f]{12}\.css$", stylesheet[1]), body[:2000]
        assert _get(f"http://127.0.0.1:{port}{stylesheet[1]}")[0] == 200
        status, health = _get(f"http://127.0.0.1:{port}/healthz")
        report = json.loads(health)
        # No worker runs here: the web tier is up, a worker has never reported.
        assert (status, report["database"], report["worker"]) == (503, "up", "never")
    finally:
        server.terminate()
        server.wait(timeout=30)
