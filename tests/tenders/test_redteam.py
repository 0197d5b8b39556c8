"""manage.py redteam on the shipped tender playbook: it finds the planted ring, with
no policy breach and no leaked private value; bad options are clear errors."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("redteam", *args, stdout=out)
    return out.getvalue()


def test_the_ring_is_found_with_no_breach_and_no_leak(template):
    out = run("--playbook", "ring", "--runs", "12", "--seed", "1")
    assert "rings present 12, flagged 12: detection 100.0 %" in out
    assert "false alarms 0/12" in out
    assert out.strip().endswith("TOTAL policy breaches: 0; leaked private values: 0")


def test_every_adversary_runs_and_nothing_gets_through(template):
    out = run("--playbook", "all", "--runs", "4", "--seed", "3")
    for name in ("ring", "shill", "sniper", "lowball", "probe", "malformed"):
        assert f"[{name}]" in out
    assert "renege attempts in the final negotiation blocked" in out
    assert out.count("policy breaches: 0   leaked private values: 0") == 6


def test_the_same_seed_gives_the_same_report(template):
    assert run("--playbook", "ring", "--runs", "5", "--seed", "9") == run(
        "--playbook", "ring", "--runs", "5", "--seed", "9"
    )


def test_a_leaking_opening_price_is_reported(template):
    template.config = {**template.config, "opening_price": template.config["reserve_price"]}
    template.save()
    with pytest.raises(CommandError, match="breach or a leak"):
        run("--playbook", "sniper", "--runs", "2")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--playbook", "bribe"], "unknown red-team playbook 'bribe'"),
        (["--playbook", "ring", "--runs", "0"], "runs must be"),
        (["--playbook", "ring", "--tender-playbook", "nope"], "no tender playbook named 'nope'"),
    ],
)
def test_bad_options_are_clear_errors(template, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_without_a_tender_playbook_it_says_what_to_do(db):
    with pytest.raises(CommandError, match="no tender playbook imported"):
        run("--playbook", "ring")


def test_the_admin_red_team_button_shows_the_report(client, template, django_user_model):
    from django.urls import reverse

    admin = django_user_model.objects.create_superuser("root", password="pw-long-enough-1")
    client.force_login(admin)
    change = client.get(reverse("admin:tenders_tenderplaybook_change", args=[template.pk]))
    url = reverse("admin:tenders_tenderplaybook_redteam", args=[template.pk])
    assert url in change.content.decode()
    page = client.post(url, {"adversary": "ring", "seed": "1"}).content.decode()
    assert 'id="redteam-report"' in page
    assert "Policy breaches: 0 · leaked private values: 0" in page
    assert "20/20" in page  # the ring flagged in every one of the 20 runs
    bad = client.post(url, {"adversary": "bribe"}).content.decode()
    assert "unknown red-team playbook" in bad


def test_a_red_team_run_never_swaps_the_bidder_strategies(template, monkeypatch):
    """The spy watches through the engine's observe hook: the strategies that
    every tender (and every worker thread) uses are never replaced, not even while
    the red team runs (it runs in the web process, from admin)."""
    from negotiator.engine import auctions
    from tenders.services.redteam import redteam_run

    original = auctions.STRATEGIES["truthful"]
    calls = []

    def watched(view, rng):
        calls.append(auctions.STRATEGIES["truthful"] is watched)
        return original(view, rng)

    monkeypatch.setitem(auctions.STRATEGIES, "truthful", watched)
    redteam_run(template=template, playbook="all", runs=2, seed=1)
    assert calls and all(calls)
    assert auctions.STRATEGIES["truthful"] is watched
