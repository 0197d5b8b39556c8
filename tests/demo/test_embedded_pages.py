"""`make run`'s embedded default (SQLite, no server) serves every main page with the
demo data: the product's queries must not rely on PostgreSQL-only features
(DISTINCT ON once broke the outcomes page there). Runs in a subprocess so this
test's own PostgreSQL settings stay out of it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.demo.test_run_local import _embedded_env

pytestmark = pytest.mark.worker

PAGES = [
    "/",
    "/negotiations/",
    "/negotiations.csv",
    "/tenders/",
    "/outcomes/",
    "/outcomes/export.csv",
    "/approvals/",
    "/audit/",
    "/llm/",
    "/api/tokens/",
    "/admin/negotiator/playbook/",
]

SCRIPT = """
import django, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "negotiator.settings")
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
assert settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
setup_test_environment()
call_command("migrate", verbosity=0)
call_command("bootstrap_demo", stdout=open(os.devnull, "w"))
from negotiator.models import Negotiation
from tenders.models import Tender
client = Client(raise_request_exception=False)
from django.contrib.auth import get_user_model
client.force_login(get_user_model().objects.get(username="admin"))
paths = sys.argv[1:]
paths += [f"/negotiations/{pk}/" for pk in Negotiation.objects.values_list("pk", flat=True)]
paths += [f"/tenders/{pk}/" for pk in Tender.objects.values_list("pk", flat=True)]
for path in paths:
    print(path, client.get(path).status_code)
"""


def _embedded(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """Python with these arguments, on the embedded default under tmp_path."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=_embedded_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_main_page_serves_on_the_embedded_default_with_demo_data(tmp_path):
    done = _embedded(tmp_path, "-c", SCRIPT, *PAGES)
    assert done.returncode == 0, done.stderr[-3000:]
    statuses = dict(line.rsplit(" ", 1) for line in done.stdout.splitlines() if line)
    assert set(PAGES) <= set(statuses)
    assert {path: code for path, code in statuses.items() if code != "200"} == {}


@pytest.mark.parametrize("playbook", ["procurement", "marketing"])
def test_a_shipped_playbook_simulates_before_the_database_is_set_up(tmp_path, playbook):
    """`simulate --playbook marketing` on a fresh clone, before `make run` made the
    embedded database: it once asked the missing tables first and printed a
    traceback."""
    done = _embedded(tmp_path, "manage.py", "simulate", "--playbook", playbook, "--runs", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
