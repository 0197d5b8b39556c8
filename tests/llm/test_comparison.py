"""Judging the model: LLM-assisted against deterministic negotiations (agreement
rate, rounds, savings) as a selector and as a page scoped to the user's teams."""

from __future__ import annotations

from datetime import timedelta
from statistics import mean

import pytest
from django.utils import timezone

from negotiator.llm.fake import Reply, random_choice
from negotiator.llm.selectors import llm_comparison
from negotiator.models import Negotiation, Offer
from negotiator.services.lifecycle import negotiation_create
from negotiator.services.roles import roles_ensure
from tests.llm.conftest import sequence
from tests.negotiator.conftest import run_to_end
from tests.negotiator.test_views import make_user

pytestmark = pytest.mark.django_db


def _opening_ask(n: Negotiation) -> int:
    first = (
        Offer.objects.filter(negotiation=n, performative__in=("propose", "counter"))
        .exclude(sender="buyer")
        .order_by("id")
        .first()
    )
    return first.terms["price"]


@pytest.fixture
def runs(llm_playbook, llm_server):
    llm_server.script = sequence(Reply("not json"), then=random_choice(5))
    assisted = [
        run_to_end(
            negotiation_create(playbook=llm_playbook, seed=s, strategies={"buyer": "llm-assisted"})
        )
        for s in (1, 2)
    ]
    plain = [run_to_end(negotiation_create(playbook=llm_playbook, seed=s)) for s in (1, 2, 3)]
    return assisted, plain


def test_the_comparison_counts_each_arm(runs, llm_playbook):
    assisted, plain = runs
    result = llm_comparison(playbook=llm_playbook)
    assert (result.llm.finished, result.deterministic.finished) == (2, 3)
    assert result.llm.agreements == sum(1 for n in assisted if n.agreed_terms)
    assert result.deterministic.agreements == sum(1 for n in plain if n.agreed_terms)
    assert result.llm.mean_rounds == mean(n.current_round for n in assisted)
    expected = mean(_opening_ask(n) - n.deal_value for n in plain if n.agreed_terms)
    assert result.deterministic.mean_savings == pytest.approx(expected)
    llm_agreed = [n for n in assisted if n.agreed_terms]
    if llm_agreed:
        expected = mean(_opening_ask(n) - n.deal_value for n in llm_agreed)
        assert result.llm.mean_savings == pytest.approx(expected)
    assert result.calls > 0 and result.fallbacks == {"invalid_json": 1}
    assert result.tokens == 150 * result.calls  # an unusable reply spent its tokens too
    assert (
        llm_comparison(playbook=llm_playbook, since=timezone.now() + timedelta(days=1)).llm.finished
        == 0
    )


def test_the_page_shows_only_the_users_teams(client, runs):
    roles_ensure()
    client.force_login(make_user("mia", "Procurement", "Operators"))
    html = client.get("/llm/").content.decode()
    assert "LLM-assisted vs deterministic" in html
    assert '<td class="num">2</td>' in html and '<td class="num">3</td>' in html
    assert "invalid_json" in html
    client.force_login(make_user("olga", "Marketing", "Operators"))
    html = client.get("/llm/").content.decode()
    assert "Nothing to compare yet" in html


def test_bad_filters_are_explained_not_errors(client, runs, llm_playbook):
    roles_ensure()
    client.force_login(make_user("mia", "Procurement", "Operators"))
    response = client.get("/llm/", {"since": "yesterday", "playbook": "abc"})
    assert response.status_code == 200
    assert "Use a date like 2026-01-31" in response.content.decode()
    assert client.get("/llm/", {"playbook": str(llm_playbook.pk)}).status_code == 200


def test_the_page_needs_a_login(client, db):
    response = client.get("/llm/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_api_key_reaches_neither_the_page_nor_a_repr(client, runs, settings):
    from negotiator.llm.config import llm_settings

    settings.LLM_API_KEY = "sk-secret-never-shown"
    roles_ensure()
    client.force_login(make_user("mia", "Procurement", "Operators"))
    response = client.get("/llm/")
    assert "sk-secret-never-shown" not in response.content.decode()
    assert "No model is configured" not in response.content.decode()
    context = response.context[0].flatten()
    assert all("sk-secret" not in repr(value) for value in context.values())
    assert "sk-secret" not in repr(llm_settings())


def test_the_comparison_reads_a_fixed_number_of_queries(
    runs, llm_playbook, django_assert_max_num_queries
):
    """Savings are read for all agreements at once, not two queries per row."""
    with django_assert_max_num_queries(8):
        llm_comparison(playbook=llm_playbook)
