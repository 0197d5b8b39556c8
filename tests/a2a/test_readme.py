"""The README's client example works: it runs, as written, against a live server."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest

from negotiator.models import Offer
from tests.a2a.conftest import open_seat
from tests.conftest import REPO

pytestmark = pytest.mark.django_db(transaction=True)


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    return re.search(r"<!-- a2a-example -->\n```python\n(.*?)```", text, re.S).group(1)


def test_the_readme_client_example_counters_our_opening_offer(live_server, playbook, tmp_path):
    negotiation, _, token = open_seat(playbook)
    script = tmp_path / "example.py"
    script.write_text(readme_example())
    env = {**os.environ, "NEGOTIATOR_URL": live_server.url, "SEAT_TOKEN": token}
    run = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    offers = list(Offer.objects.filter(negotiation=negotiation).order_by("id"))
    assert [(o.sender, o.performative) for o in offers] == [
        ("buyer", "propose"),
        ("seller", "counter"),
        ("buyer", "counter"),
    ]
    assert offers[1].terms["price"] == offers[0].terms["price"] + 10_000
    lines = run.stdout.splitlines()
    printed = [line.split(": ", 1) for line in lines]
    assert [(head, ast.literal_eval(terms)) for head, terms in printed] == [
        ("TASK_STATE_INPUT_REQUIRED our offer", offers[0].terms),
        ("TASK_STATE_INPUT_REQUIRED our answer", offers[2].terms),
    ]
