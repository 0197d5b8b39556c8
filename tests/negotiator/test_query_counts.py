"""Each page costs the same number of queries with 3 rows as with 30 (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from negotiator.models import Negotiation, Offer, PolicyCheck
from negotiator.services.lifecycle import negotiation_create
from negotiator.services.rounds import negotiation_run_round
from tests.negotiator.conftest import run_to_end
from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db


def queries(client, url: str, **headers) -> int:
    client.get(url, headers=headers)  # warm caches (session, content types)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, headers=headers)
    assert response.status_code in (200, 204), url
    return len(ctx.captured_queries)


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user("root", superuser=True))
    return client


def negotiations(playbook, n: int) -> list[Negotiation]:
    """n negotiations, each with two offers carrying checks."""
    out = []
    for i in range(n):
        negotiation = negotiation_create(playbook=playbook, title=f"N{i}", seed=i)
        negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
        out.append(negotiation)
    return out


def clone_offers(negotiation: Negotiation, total: int) -> None:
    """Grow a negotiation's timeline to `total` offers by copying its first ones."""
    template = list(Offer.objects.filter(negotiation=negotiation).order_by("id"))
    checks = list(PolicyCheck.objects.filter(offer=template[0]))
    have = len(template)
    round_number = max(o.round for o in template) + 1
    new = []
    while have + len(new) < total:
        source = template[len(new) % len(template)]
        new.append(
            Offer(
                negotiation=negotiation,
                round=round_number,  # one offer per round keeps (round, sender) unique
                sender=source.sender,
                performative="counter",
                terms=source.terms,
                fixed_terms_hash=source.fixed_terms_hash,
                engine_id=f"clone-{round_number}-{source.sender}",
                utilities=source.utilities,
                rationale=source.rationale,
            )
        )
        round_number += 1
    created = Offer.objects.bulk_create(new)
    PolicyCheck.objects.bulk_create(
        [
            PolicyCheck(
                negotiation=negotiation,
                offer=offer,
                policy_version_id=c.policy_version_id,
                round=offer.round,
                sender=offer.sender,
                stage=c.stage,
                terms=c.terms,
                passed=c.passed,
                severity=c.severity,
                message=c.message,
                evidence=c.evidence,
            )
            for offer in created
            for c in checks
        ]
    )


def test_list_and_home_queries_do_not_grow_with_rows(admin_client, procurement):
    negotiations(procurement, 3)
    small = {url: queries(admin_client, url) for url in ("/negotiations/", "/")}
    negotiations(procurement, 27)
    large = {url: queries(admin_client, url) for url in ("/negotiations/", "/")}
    assert small == large
    assert Negotiation.objects.count() == 30


def test_negotiation_page_and_poll_queries_do_not_grow_with_offers(admin_client, procurement):
    negotiation = run_to_end(negotiation_create(playbook=procurement, seed=5))
    first = Offer.objects.filter(negotiation=negotiation).order_by("id").first()
    pk = negotiation.pk

    def measure() -> tuple[int, int, int, int]:
        return (
            queries(admin_client, f"/negotiations/{pk}/"),
            queries(
                admin_client, f"/negotiations/{pk}/timeline?after={first.pk}", HX_Request="true"
            ),
            queries(admin_client, f"/negotiations/{pk}/audit/"),
            queries(
                admin_client, f"/negotiations/{pk}/timeline?before=999999999", HX_Request="true"
            ),
        )

    Offer.objects.filter(negotiation=negotiation, id__gt=first.pk + 2).delete()
    small = measure()
    clone_offers(negotiation, 30)
    assert Offer.objects.filter(negotiation=negotiation).count() == 30
    large = measure()
    assert small == large


def test_poll_without_news_is_cheap(admin_client, procurement):
    negotiation = negotiation_create(playbook=procurement)
    negotiation.refresh_from_db()
    url = (
        f"/negotiations/{negotiation.pk}/timeline?after=0"
        f"&round={negotiation.current_round}&status={negotiation.status}"
    )
    # session + user, then the negotiation's head and one probe for newer offers
    assert queries(admin_client, url, HX_Request="true") <= 4


@pytest.fixture
def member_client(client, db):
    """A member of the team that owns the shipped playbooks (not a superuser, so
    the team filter is in every query)."""
    client.force_login(make_user("mia", "Procurement", "Operators"))
    return client


def test_a_team_members_pages_do_not_grow_with_rows_of_any_team(member_client, procurement):
    from negotiator.playbook_io import playbook_import
    from tests.negotiator.conftest import load_playbook_document

    media = playbook_import(load_playbook_document("media"))  # another team's
    negotiations(procurement, 3)
    negotiations(media, 3)
    urls = ("/negotiations/", "/", "/approvals/")
    small = {url: queries(member_client, url) for url in urls}
    negotiations(procurement, 12)
    negotiations(media, 12)
    large = {url: queries(member_client, url) for url in urls}
    assert small == large
    result = member_client.get("/negotiations/").context["result"]
    assert result.total == 15


def test_a_team_members_poll_without_news_costs_one_query_more(member_client, procurement):
    negotiation = negotiation_create(playbook=procurement)
    negotiation.refresh_from_db()
    url = (
        f"/negotiations/{negotiation.pk}/timeline?after=0"
        f"&round={negotiation.current_round}&status={negotiation.status}"
    )
    # session + user, the user's groups (the team filter), the head, the probe
    assert queries(member_client, url, HX_Request="true") == 5
