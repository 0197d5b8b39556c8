"""The outcomes page and the what-if comparison in Debian's Chromium (Playwright):
the charts draw under the Content-Security-Policy (no inline script), the figures
and their definitions read as computed, the filters narrow the page and the CSV
link carries them. Screenshots go to test-artifacts/ (not committed)."""

from __future__ import annotations

import pytest

from tests.analytics.known_data import procurement_world
from tests.conftest import REPO
from tests.negotiator.test_views import make_user

ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture
def browser_page(chromium):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.console_errors = console
    try:
        yield page
    finally:
        page.close()


def login(page, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_url}")


@pytest.mark.django_db(transaction=True)
def test_the_outcomes_page_draws_its_charts_and_filters(live_server, browser_page):
    world = procurement_world()
    make_user("audrey", "Auditors")
    page = browser_page
    login(page, live_server.url, "audrey", "/outcomes/")

    assert (
        page.locator("[data-figure=agreement_rate]").first.inner_text() == "50.0%"
    )  # N1, N2 of N1..N3 and the media buy
    assert page.locator("[data-figure=savings_ask]").first.inner_text() == "14.3%"
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('canvas')].map(c => !!Chart.getChart(c))"
    )
    assert drawn and all(drawn), drawn
    assert "Counterpart's opening ask minus the agreed deal value" in page.inner_text("main")
    assert page.locator(".pattern-metric.unused").count() == 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "outcomes.png"), full_page=True)

    page.select_option("#id_playbook", str(world["media"].pk))
    page.click("form[aria-label='Filter outcomes'] button[type=submit]")
    page.wait_for_url(f"**/outcomes/?playbook={world['media'].pk}**")
    assert page.locator("tr[data-negotiation]").count() == 1
    assert f"playbook={world['media'].pk}" in page.get_attribute("#outcomes-csv", "href")
    refused = [m for m in page.console_errors if "Content Security Policy" in m or "Refused" in m]
    assert refused == []


@pytest.mark.django_db(transaction=True)
def test_what_if_from_the_policy_form_compares_without_saving(live_server, browser_page):
    from negotiator.models import Policy, PolicyVersion
    from negotiator.services.lifecycle import negotiation_create
    from tests.negotiator.conftest import auto_approval_route, run_to_end

    world = procurement_world()
    auto_approval_route()
    played = [
        run_to_end(negotiation_create(playbook=world["procurement"], title=f"Seed {s}", seed=s))
        for s in (1, 2, 3)
    ]
    make_user("root", superuser=True)
    cap = Policy.objects.get(name="Budget cap", playbook=world["procurement"])
    versions = PolicyVersion.objects.count()
    page = browser_page
    login(page, live_server.url, "root", f"/admin/negotiator/policy/{cap.pk}/change/")

    # The cap's own field (the form shows the kind's fields; JSON is the other view).
    page.fill("#id_p_cap_max", "98000")
    page.fill("#id_whatif_last", "5")
    with page.context.expect_page() as opened:
        page.click("#whatif-button")
    comparison = opened.value
    comparison.wait_for_load_state()
    summary = comparison.locator("#whatif-summary").inner_text()
    assert "Agreement rate" in summary and "Policy blocks" in summary
    above = [n for n in played if n.agreed_terms and n.agreed_terms["price"] > 98000]
    assert above
    for n in above:
        row = comparison.locator(f"#whatif-rows tr[data-negotiation='{n.pk}']")
        assert "changes" in row.inner_text()
        assert row.locator("a").get_attribute("href") == f"/negotiations/{n.pk}/"
    ARTIFACTS.mkdir(exist_ok=True)
    comparison.screenshot(path=str(ARTIFACTS / "whatif.png"), full_page=True)
    comparison.close()
    # Nothing was saved; the form still holds the edit.
    cap.refresh_from_db()
    assert cap.parameters["max"] == 118000 and PolicyVersion.objects.count() == versions
    assert "98000" in page.input_value("#id_p_cap_max")
