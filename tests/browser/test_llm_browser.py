"""The language model's pages in Debian's Chromium: an outside person types an
offer in words, the (fake) model fills the portal's form, nothing is sent until
they send it; and the LLM-vs-deterministic page. Screenshots go to
test-artifacts/llm/ (git-ignored); no Content-Security-Policy violation."""

from __future__ import annotations

import json

import pytest

from negotiator.llm.fake import FakeLLMServer, Reply, first_choice
from tests.browser.test_csp import RECORD_VIOLATIONS
from tests.conftest import REPO

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
SHOTS = REPO / "test-artifacts" / "llm"
PASSWORD = "llm-viewer-1"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def reading(body) -> Reply:
    if "candidate_id" in json.dumps(body.get("response_format", {})):
        return first_choice(body)
    terms = {"price": 95_000, "delivery_days": 30, "warranty_months": None}
    return Reply(json.dumps({"action": "counter", "terms": terms, "note": "95,000 USD, 30 days"}))


@pytest.fixture
def model(settings):
    with FakeLLMServer(reading) as server:
        settings.LLM_BASE_URL = server.base_url
        settings.LLM_MODEL = "fake-model"
        settings.LLM_TIMEOUT_SECONDS = 2
        yield server


@pytest.fixture
def seat(transactional_db, live_server, model):
    from negotiator.playbook_io import playbook_import
    from negotiator.services.invites import Invitee, negotiation_create_with_seats
    from negotiator.services.roles import roles_ensure
    from negotiator.services.rounds import negotiation_run_round
    from negotiator.services.scheduling import rounds_held

    roles_ensure()
    playbook = playbook_import(json.loads((REPO / "playbooks" / "procurement.json").read_text()))
    with rounds_held():
        negotiation, issued = negotiation_create_with_seats(
            playbook=playbook,
            seats={"seller": "person"},
            invitees={"seller": Invitee("Sam Supplier", "sam@globex.example")},
            base_url=live_server.url,
            title="Q3 components order",
            seed=3,
        )
        negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    return negotiation, issued[0].link, playbook


def test_free_text_fills_the_portal_form_and_sends_only_when_sent(chromium, seat):
    from negotiator.models import Offer

    negotiation, link, _ = seat
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    assert page.goto(link).status == 200
    page.click("#free-text summary")
    page.fill("#id_free_text", "We can do 95k if you accept 30 days delivery.")
    shot(page, "phone-1-free-text")
    offers = Offer.objects.filter(negotiation=negotiation).count()
    with page.expect_navigation():
        page.click("#read-free-text")
    assert "Nothing has been sent yet." in page.locator("#reading").inner_text()
    assert page.input_value("#id_term_price") == "95000"
    assert page.input_value("#id_term_delivery_days") == "30"
    assert page.input_value("#id_message") == "We can do 95k if you accept 30 days delivery."
    assert Offer.objects.filter(negotiation=negotiation).count() == offers
    shot(page, "phone-2-form-filled")

    page.fill("#id_term_delivery_days", "25")  # the person corrects the model
    with page.expect_navigation():
        page.click("#send-counter")
    assert "Your counteroffer was sent." in page.locator("#portal-result").inner_text()
    sent = Offer.objects.filter(negotiation=negotiation, sender="seller").latest("id")
    assert sent.terms["price"] == 95_000 and sent.terms["delivery_days"] == 25
    shot(page, "phone-3-sent")
    assert page.evaluate("window.__csp") == []
    context.close()


def test_the_comparison_page(chromium, seat, live_server):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from negotiator.services.lifecycle import negotiation_create
    from tests.negotiator.conftest import run_to_end

    _, _, playbook = seat
    for s in (1, 2):
        run_to_end(
            negotiation_create(playbook=playbook, seed=s, strategies={"buyer": "llm-assisted"})
        )
        run_to_end(negotiation_create(playbook=playbook, seed=s))
    user = get_user_model().objects.create_user("lena", password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="Procurement")[0])
    context = chromium.new_context(viewport=DESKTOP)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/?next=/llm/")
    page.fill("#id_username", "lena")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/llm/")
    table = page.locator("#comparison").inner_text()
    assert "LLM-assisted" in table and "Deterministic" in table
    assert page.locator("#comparison tbody tr").count() == 2
    shot(page, "desktop-comparison")
    assert page.evaluate("window.__csp") == []
    context.close()
