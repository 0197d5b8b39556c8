"""Who sees what: a negotiation belongs to its playbook's team. Members see it and
(operators) act on it; Auditors and superusers see all; anyone else gets the same
404 as for an id that does not exist, on every page, partial, export and action of
both apps. The walk resolves the URL patterns themselves, so a new URL is covered
the day it is added."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from approvals.models import ApprovalRoute, ConditionKind
from approvals.services.decisions import approval_decide
from negotiator import permissions
from negotiator.models import Negotiation, NegotiationStatus, Playbook
from negotiator.playbook_io import playbook_export, playbook_import
from negotiator.selectors.visibility import negotiations_visible_to, playbooks_startable_by
from negotiator.services.checkpoints import checkpoint_write
from negotiator.services.lifecycle import negotiation_create
from negotiator.services.roles import roles_ensure
from tenders.models import BidderCredential
from tenders.services.outside import tender_create_with_outside
from tenders.services.setup import tender_playbook_import
from tests.negotiator.audit_fixtures import signing  # noqa: F401 (a fixture)
from tests.negotiator.conftest import load_playbook_document, run_to_end
from tests.negotiator.test_views import make_user
from tests.tenders.conftest import run_tender as tender_run
from tests.tenders.conftest import tender_document

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
TEAM_A_TITLE = "Team A order"
TEAM_B_TITLE = "Team B media buy"
MISSING = 987_654_321

# URL patterns that take an id of something other than a negotiation or an
# approval request, with the reason they are outside the team rule.
NOT_NEGOTIATION_DATA = {
    "approvals:delegation_revoke": "a delegation is one person's, not a negotiation's",
    "audit_checkpoint_download": "the whole checkpoint is for auditors (tested apart)",
    "portal:seat": "an invite secret, not an id: the link is the credential (tests/portal)",
    "portal:read": "an invite secret, not an id: the link is the credential (tests/portal)",
    "tenders:bid": "a bid-link secret, not an id: the link is the credential (tests/tenders)",
}
# Approval URLs whose <pk> is an approval request.
APPROVAL_REQUEST_URLS = {"approvals:detail", "approvals:decide"}
# Tender URLs: <pk> is a tender of team A (its award negotiation is team A's too).
TENDER_URLS = {
    "tenders:detail",
    "tenders:final",
    "tenders:credential_new",
    "tenders:credential_revoke",
}


def _patterns(resolver, namespace: str = ""):
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "admin":
                continue  # Django admin scopes by its own permissions (tested apart)
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _patterns(p, ns)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{namespace}{p.name}", sorted(p.pattern.converters)


def routes() -> list[tuple[str, list[str]]]:
    """Every named URL of negotiator.urls and approvals.urls with its parameters."""
    return list(_patterns(get_resolver()))


def agreed(playbook: Playbook, title: str) -> Negotiation:
    """A negotiation of this playbook that reached an agreement (waiting for approval)."""
    for seed in range(1, 12):
        negotiation = run_to_end(negotiation_create(playbook=playbook, title=title, seed=seed))
        if negotiation.status == NegotiationStatus.PENDING_APPROVAL:
            return negotiation
        Negotiation.objects.filter(pk=negotiation.pk).update(title=f"{title} (seed {seed})")
    raise AssertionError("no seed reached an agreement")


@pytest.fixture
def world(db, signing):  # noqa: F811
    """Team A (Procurement) with a pending and an approved deal, team B (Marketing)
    with one of its own, and the people around them; a signed checkpoint covers
    their audit chains."""
    roles_ensure()
    team_a = playbook_import(load_playbook_document("procurement"))
    team_b = playbook_import(load_playbook_document("media"))
    approvers = Group.objects.get(name="Approvers")
    for order, playbook in enumerate((team_a, team_b)):
        ApprovalRoute.objects.create(
            name=f"Every {playbook.name} deal",
            condition_kind=ConditionKind.PLAYBOOK,
            playbook=playbook,
            approver_group=approvers,
            sla_hours=24,
            order=order,
        )
    people = {
        # Acts on everything of team A: operator, approver, member.
        "member": make_user("mia", "Procurement", "Operators", "Approvers"),
        "approver_a": make_user("abe", "Procurement", "Approvers"),
        # Another team's operator: team A's negotiations do not exist for her.
        "outsider": make_user("olga", "Marketing", "Operators"),
        "auditor": make_user("audrey", "Auditors"),
        "root": make_user("root", superuser=True),
    }
    pending = agreed(team_a, TEAM_A_TITLE)
    done = agreed(team_a, f"{TEAM_A_TITLE}, approved")
    approval_decide(
        request=done.approval_requests.get(), user=people["approver_a"], decision="approve"
    )
    done.refresh_from_db()
    assert done.status == NegotiationStatus.APPROVED and done.plan
    theirs = run_to_end(negotiation_create(playbook=team_b, title=TEAM_B_TITLE, seed=2))
    tender, _ = tender_create_with_outside(
        template=tender_playbook_import(tender_document()),
        base_url="http://testserver",
        outside=[{"supplier": "Quay Fasteners", "kind": "remote_agent"}],
        seed=1,
    )
    tender = tender_run(tender)
    checkpoint_write()
    return {
        "team_a": team_a,
        "team_b": team_b,
        "pending": pending,
        "request": pending.approval_requests.get(),
        "done": done,
        "theirs": theirs,
        "tender": tender,
        **people,
    }


def urls_for(name: str, params: list[str], world) -> list[tuple[str, str]]:
    """(label, url) for one named pattern, ids taken from team A's rows."""
    if not params:
        return [(name, reverse(name))]
    if name in NOT_NEGOTIATION_DATA:
        return []
    if name.startswith("tenders:"):
        assert name in TENDER_URLS, f"{name} takes an id: add it to TENDER_URLS"
        tender = world["tender"]
        ids = {"pk": tender.pk}
        if "bidder_id" in params:  # its outside bidder
            ids["bidder_id"] = tender.bidders.exclude(kind="builtin").get().pk
        if "credential_id" in params:
            ids["credential_id"] = (
                BidderCredential.objects.filter(bidder__tender=tender).earliest("created_at").pk
            )
        return [(name, reverse(name, kwargs=ids))]
    if name.startswith("approvals:"):
        assert name in APPROVAL_REQUEST_URLS, (
            f"{name} takes an id: add it to APPROVAL_REQUEST_URLS or NOT_NEGOTIATION_DATA"
        )
        return [(name, reverse(name, kwargs={"pk": world["request"].pk}))]
    assert set(params) <= {"pk", "fmt"}, f"{name}: teach this test the parameters {params}"
    formats = ["json", "csv"] if "fmt" in params else [None]
    # Only an approved deal has a plan (before that plan.json is a 409 for anyone).
    negotiations = (
        [world["done"]]
        if name in ("negotiation_plan", "negotiation_plan_csv")
        else [world["pending"], world["done"]]
    )
    out = []
    for negotiation in negotiations:
        for fmt in formats:
            kwargs = {"pk": negotiation.pk, **({"fmt": fmt} if fmt else {})}
            url = reverse(name, kwargs=kwargs)
            if name == "negotiation_timeline":
                out += [(name, f"{url}?after=0"), (name, f"{url}?before={MISSING}")]
            else:
                out.append((name, url))
    return out


def fetch(client, url: str):
    """GET, or POST (as htmx, with a valid body) where the view only takes POST."""
    response = client.get(url, headers=HTMX)
    if response.status_code == 405:
        data = {"decision": "approve", "comment": "ok", "extra_rounds": 5, "extra_minutes": 5}
        response = client.post(url, data, headers=HTMX)
    return response


def body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode()


def without_csrf(text: str) -> str:
    """A page's text without its CSRF tokens (masked afresh on every response, so
    two renders of the same 404 page differ only there)."""
    text = re.sub(r'"X-CSRFToken": "[^"]+"', '"X-CSRFToken": "…"', text)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken"', text)


def test_the_walk_covers_every_negotiation_and_approval_url(world):
    with_ids = {name for name, params in routes() if params}
    covered = {name for name, params in routes() if params and urls_for(name, params, world)}
    assert with_ids - covered == set(NOT_NEGOTIATION_DATA)
    for expected in (
        "negotiation_detail",
        "negotiation_timeline",
        "negotiation_chart",
        "negotiation_resume",
        "negotiation_close",
        "negotiation_plan",
        "negotiation_plan_csv",
        "negotiation_audit",
        "negotiation_audit_export",
        "approvals:detail",
        "approvals:decide",
        "tenders:detail",
        "tenders:final",
    ):
        assert expected in covered


def test_another_team_gets_404_on_every_negotiation_and_approval_url(client, world):
    client.force_login(world["outsider"])
    statuses = {n.pk: (n.status, n.current_round) for n in (world["pending"], world["done"])}
    checked = 0
    for name, params in routes():
        if not params:
            continue
        for label, url in urls_for(name, params, world):
            response = fetch(client, url)
            assert response.status_code == 404, (label, url, response.status_code)
            checked += 1
    assert checked >= 15
    # Nothing was changed through a URL that refused to exist.
    for negotiation in Negotiation.objects.filter(pk__in=statuses):
        assert (negotiation.status, negotiation.current_round) == statuses[negotiation.pk]
    assert world["request"].decisions.count() == 0


def test_another_teams_id_looks_exactly_like_a_missing_one(client, world):
    client.force_login(world["outsider"])
    for name in (
        "negotiation_detail",
        "negotiation_audit",
        "negotiation_plan",
        "negotiation_plan_csv",
    ):
        theirs = client.get(reverse(name, kwargs={"pk": world["pending"].pk}))
        missing = client.get(reverse(name, kwargs={"pk": MISSING}))
        assert (theirs.status_code, without_csrf(body(theirs))) == (
            missing.status_code,
            without_csrf(body(missing)),
        )
    theirs = client.get(reverse("approvals:detail", kwargs={"pk": world["request"].pk}))
    missing = client.get(reverse("approvals:detail", kwargs={"pk": MISSING}))
    assert (theirs.status_code, without_csrf(body(theirs))) == (404, without_csrf(body(missing)))


def test_a_team_member_gets_200_on_every_negotiation_and_approval_url(client, world):
    client.force_login(world["member"])
    checked = 0
    for name, params in routes():
        if not params:
            continue
        for label, url in urls_for(name, params, world):
            response = fetch(client, url)
            assert response.status_code == 200, (label, url, response.status_code)
            checked += 1
    assert checked >= 15
    # The decision went through: a member who is an approver decides.
    assert world["request"].decisions.filter(user=world["member"]).exists()


@pytest.mark.parametrize("who", ["auditor", "root"])
def test_auditors_and_superusers_see_every_team(client, world, who):
    client.force_login(world[who])
    for name, params in routes():
        if not params:
            continue
        for label, url in urls_for(name, params, world):
            if fetch_is_a_write(label):
                continue
            assert client.get(url, headers=HTMX).status_code == 200, (label, url)
    home = body(client.get("/"))
    assert TEAM_A_TITLE in home and TEAM_B_TITLE in home


def fetch_is_a_write(label: str) -> bool:
    return label in {
        "negotiation_resume",
        "negotiation_close",
        "negotiation_accept",
        "negotiation_counter",
        "negotiation_override_request",
        "negotiation_override_decide",
        "approvals:decide",
        "seat_credential_issue",
        "seat_credential_revoke",
        "tenders:final",
        "tenders:credential_new",
        "tenders:credential_revoke",
    }


def test_lists_counts_and_the_inbox_show_only_the_users_teams(client, world):
    client.force_login(world["outsider"])
    for url in (
        "/",
        "/negotiations/",
        "/negotiations/?status=pending_approval",
        "/approvals/",
        "/outcomes/",
        "/outcomes/export.csv",
    ):
        page = body(client.get(url))
        assert TEAM_A_TITLE not in page, url
    listing = client.get("/negotiations/")
    result = listing.context["result"]
    assert result.total == 1 and [r.negotiation.title for r in result.rows] == [TEAM_B_TITLE]
    home = client.get("/").context["summary"]
    assert home.total == 1 and [p.negotiation.title for p in home.pending] == [TEAM_B_TITLE]
    inbox = client.get("/approvals/?status=all").context
    # Her own team's request only (she is no approver: she sees it as a team member).
    assert [r.negotiation.title for r in inbox["rows"]] == [TEAM_B_TITLE]
    assert [name for _, name in inbox["choices"]["playbooks"]] == [world["team_b"].name]
    assert inbox["metrics_total"].opened == 1
    outcomes = client.get("/outcomes/").context["report"]
    assert [r.title for r in outcomes.rows] == [TEAM_B_TITLE]
    exported = body(client.get("/negotiations.csv"))
    assert TEAM_B_TITLE in exported and TEAM_A_TITLE not in exported
    client.force_login(world["member"])
    result = client.get("/negotiations/").context["result"]
    assert result.total == Negotiation.objects.filter(team__name="Procurement").count()
    assert TEAM_B_TITLE not in body(client.get("/negotiations/"))
    assert TEAM_A_TITLE in body(client.get("/"))


def test_operators_start_only_from_their_teams_playbooks(client, world):
    client.force_login(world["outsider"])
    page = body(client.get("/negotiations/new/"))
    assert world["team_b"].name in page and world["team_a"].name not in page
    before = Negotiation.objects.count()
    response = client.post("/negotiations/new/", {"playbook": world["team_a"].pk})
    assert response.status_code == 400
    assert "Select a valid choice" in body(response)
    assert Negotiation.objects.count() == before
    # A team's playbook asked for by id is not offered either.
    page = body(client.get(f"/negotiations/new/?playbook={world['team_a'].pk}"))
    assert "Strategy of" not in page
    response = client.post(
        "/negotiations/new/",
        {
            "playbook": world["team_b"].pk,
            "strategy_advertiser": "default",
            "strategy_publisher": "default",
        },
    )
    assert response.status_code == 302, body(response)
    started = Negotiation.objects.latest("pk")
    assert started.team.name == "Marketing" and started.playbook == world["team_b"]
    assert list(playbooks_startable_by(world["auditor"])) == []  # auditors read, not start


def test_a_negotiation_keeps_the_team_it_was_created_with(world):
    marketing = Group.objects.get(name="Marketing")
    team_a = world["team_a"]
    team_a.team = marketing
    team_a.save()
    later = negotiation_create(playbook=team_a, title="after the move", start=False)
    assert later.team == marketing
    world["pending"].refresh_from_db()
    assert world["pending"].team.name == "Procurement"


def test_auditors_see_all_but_act_only_on_their_teams(client, world):
    auditor_operator = make_user("ada", "Auditors", "Operators")
    client.force_login(auditor_operator)
    pending = world["pending"]
    assert client.get(f"/negotiations/{pending.pk}/").status_code == 200
    response = client.post(f"/negotiations/{pending.pk}/close/")
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == NegotiationStatus.PENDING_APPROVAL


def test_a_negotiation_without_a_team_is_for_auditors_only(client, world):
    Negotiation.objects.filter(pk=world["theirs"].pk).update(team=None)
    client.force_login(world["outsider"])
    assert client.get(f"/negotiations/{world['theirs'].pk}/").status_code == 404
    client.force_login(world["auditor"])
    assert client.get(f"/negotiations/{world['theirs'].pk}/").status_code == 200


def test_the_pure_check_and_the_queryset_agree(world):
    everyone = [world[k] for k in ("member", "approver_a", "outsider", "auditor", "root")]
    everyone.append(make_user("nobody"))
    negotiations = list(Negotiation.objects.all())
    assert len(negotiations) >= 3
    for user in everyone:
        visible = set(negotiations_visible_to(user).values_list("pk", flat=True))
        assert visible == {n.pk for n in negotiations if permissions.may_see_negotiation(user, n)}


def test_the_team_travels_with_the_playbook_document(world):
    document = playbook_export(world["team_a"])
    assert document["team"] == "Procurement"
    document["name"] = "Procurement copy"
    document["team"] = "Facilities"
    copy = playbook_import(document)
    assert copy.team.name == "Facilities"
    del document["team"]
    assert playbook_import(document).team is None
    assert "team" not in playbook_export(Playbook.objects.get(name="Procurement copy"))


def test_admin_lists_only_the_staff_members_teams(client, world):
    staff = make_user("stan", "Procurement")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="view_negotiation"))
    client.force_login(staff)
    page = body(client.get("/admin/negotiator/negotiation/"))
    assert TEAM_A_TITLE in page and TEAM_B_TITLE not in page
    response = client.get(f"/admin/negotiator/negotiation/{world['theirs'].pk}/change/")
    assert response.status_code == 302  # admin's "does not exist" redirect


def test_the_policy_dry_run_offers_only_the_staff_members_negotiations(client, world):
    staff = make_user("stan", "Procurement", "Policy owners")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    page = body(client.get("/admin/negotiator/policy/dry-run/"))
    assert TEAM_A_TITLE in page and TEAM_B_TITLE not in page
    # Posting another team's negotiation by id is refused like an unknown one.
    response = client.post("/admin/negotiator/policy/dry-run/", {"negotiation": world["theirs"].pk})
    assert response.status_code == 200
    assert "Select a valid choice" in body(response)
    assert TEAM_B_TITLE not in body(response)
    playbook = world["team_a"]
    version = playbook.current_version.number
    url = f"/admin/negotiator/playbook/{playbook.pk}/versions/{version}/test/"
    page = body(client.get(url))
    assert TEAM_A_TITLE in page and TEAM_B_TITLE not in page


def test_negotiations_from_before_teams_adopt_their_playbooks_team(world):
    from django.core.management import call_command

    from negotiator.models import AuditEvent

    old = world["pending"]
    Negotiation.objects.filter(pk__in=[old.pk, world["theirs"].pk]).update(team=None)
    Negotiation.objects.filter(pk=world["done"].pk).update(team=Group.objects.get(name="Sales"))
    out = io.StringIO()
    call_command("adopt_playbook_teams", stdout=out)
    assert "2 negotiation(s)" in out.getvalue()
    teams = dict(Negotiation.objects.values_list("pk", "team__name"))
    assert teams[old.pk] == "Procurement" and teams[world["theirs"].pk] == "Marketing"
    assert teams[world["done"].pk] == "Sales"  # one with a team keeps it
    event = AuditEvent.objects.filter(negotiation=old, kind="negotiation.team_set").get()
    assert event.payload == {"team": "Procurement", "from": "playbook"}
    call_command("adopt_playbook_teams", stdout=out)
    assert "0 negotiation(s)" in out.getvalue()
