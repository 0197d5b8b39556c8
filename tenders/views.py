"""Tender pages: the list (with a start form), one tender live (htmx polls its
body while bidding runs), and its final negotiation with the winner."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from negotiator import permissions
from negotiator.engine.auctions import Format
from negotiator.services.errors import ServiceError
from tenders.models import BidderCredential, TenderPlaybook, TenderStatus
from tenders.selectors import charts, metrics
from tenders.selectors import tenders as selectors
from tenders.services import outside
from tenders.services.final import tender_final_negotiation_start
from tenders.services.setup import tender_config_parse

FORMAT_LABELS = {
    Format.FIRST_SCORE: "Sealed bid, first score",
    Format.SECOND_SCORE: "Sealed bid, second score (Vickrey)",
    Format.REVERSE_ENGLISH: "Reverse English (descending rounds)",
}


@require_GET
def tender_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    return render(
        request,
        "tenders/list.html",
        {
            "tenders": selectors.tender_list(request.user, status=status),
            "status": status,
            "statuses": TenderStatus.choices,
            "templates": selectors.templates_startable_by(request.user),
            "playbook_metrics": [
                (playbook, metrics.playbook_metrics(tenders))
                for playbook, tenders in selectors.tenders_by_playbook(request.user)
            ],
            "formats": FORMAT_LABELS.items(),
            "outside_rows": range(OUTSIDE_ROWS),
            "may_operate": permissions.may_operate(request.user),
            "nav_active": "tenders",
        },
    )


OUTSIDE_ROWS = 3  # outside bidder rows on the start form


def _outside_rows(post) -> list[dict[str, str]]:
    """The start form's outside bidder rows that were filled in (checked by the
    service with the template's bidders: a bad one says which and why)."""
    rows = []
    for n in range(OUTSIDE_ROWS):
        supplier = post.get(f"outside-{n}-supplier", "").strip()[:120]
        if not supplier:
            continue
        kind = post.get(f"outside-{n}-kind", "")
        row = {"supplier": supplier, "kind": kind if kind in ("person", "remote_agent") else "?"}
        if row["kind"] == "person":
            row["email"] = post.get(f"outside-{n}-email", "").strip()[:254]
            row["name"] = post.get(f"outside-{n}-name", "").strip()[:120]
        rows.append(row)
    return rows


@require_POST
def tender_new(request: HttpRequest) -> HttpResponse:
    if not permissions.may_operate(request.user):
        raise Http404("No such page")
    allowed = {t.pk: t for t in selectors.templates_startable_by(request.user)}
    try:
        template = allowed.get(int(request.POST.get("template", "")))
    except ValueError:
        template = None
    fmt = request.POST.get("format", "")
    if template is None or (fmt and fmt not in Format.__members__.values()):
        messages.error(request, "Choose a tender playbook and a format from the lists.")
        return redirect("tenders:list")
    try:
        tender, issued = outside.tender_create_with_outside(
            template=TenderPlaybook.objects.get(pk=template.pk),
            title=request.POST.get("title", "")[:180],
            outside=_outside_rows(request.POST),
            overrides={"format": fmt} if fmt else None,
            user=request.user,
            base_url=request.build_absolute_uri("/"),
        )
    except ServiceError as exc:
        messages.error(request, str(exc).replace("bidders[", "bidder ["))
        return redirect("tenders:list")
    if issued:
        return _credentials_page(request, tender, issued, started=True)
    return redirect("tenders:detail", pk=tender.pk)


def _credentials_page(request, tender, issued, *, started: bool) -> HttpResponse:
    """The outside bidders' secrets, shown this once (never cached)."""
    response = render(
        request,
        "tenders/credentials_issued.html",
        {"tender": tender, "issued": issued, "started": started, "nav_active": "tenders"},
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def tender_credential_new(request: HttpRequest, pk: int, bidder_id: int) -> HttpResponse:
    tender = selectors.tender_for(request.user, pk)
    if not permissions.may_act_on(request.user, tender):
        raise Http404("No such tender")
    try:
        issued = outside.bidder_credential_new(
            tender=tender,
            bidder_id=bidder_id,
            user=request.user,
            base_url=request.build_absolute_uri("/"),
        )
    except ServiceError as exc:
        messages.error(request, str(exc))
        return _back_to(request, reverse("tenders:detail", args=[tender.pk]))
    return _credentials_page(request, tender, [issued], started=False)


def _back_to(request: HttpRequest, target: str) -> HttpResponse:
    # htmx follows a client-side redirect (200); a plain form gets a 302.
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@require_POST
def tender_credential_revoke(request: HttpRequest, pk: int, credential_id: int) -> HttpResponse:
    tender = selectors.tender_for(request.user, pk)
    if not permissions.may_act_on(request.user, tender):
        raise Http404("No such tender")
    credential = BidderCredential.objects.filter(pk=credential_id, bidder__tender=tender).first()
    if credential is None:
        raise Http404("No such credential")
    outside.bidder_credential_revoke(credential=credential, user=request.user)
    messages.success(request, f"Revoked {credential.prefix}…: it opens nothing any more.")
    return _back_to(request, f"{reverse('tenders:detail', args=[tender.pk])}#outside-bidders")


@require_GET
def tender_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tender = selectors.tender_for(request.user, pk)
    bidders = selectors.outside_bidders(tender)
    window = tender_config_parse(tender.config).outside_round_seconds
    due = outside.round_closes_at(tender, window) if bidders else None
    context = {
        **selectors.tender_page(tender, request.user),
        "outside_bidders": bidders,
        "round_closes_at": due,
        "ladder": charts.bid_ladder(tender),
        "metrics": metrics.tender_metrics(tender),
        "may_operate": permissions.may_act_on(request.user, tender),
        "format_label": FORMAT_LABELS.get(tender.config.get("format"), ""),
        "nav_active": "tenders",
    }
    template = "tenders/detail.html#live" if request.htmx else "tenders/detail.html"
    return render(request, template, context)


@require_POST
def tender_final(request: HttpRequest, pk: int) -> HttpResponse:
    tender = selectors.tender_for(request.user, pk)
    if not permissions.may_act_on(request.user, tender):
        raise Http404("No such tender")
    try:
        negotiation, issued = tender_final_negotiation_start(
            tender=tender, user=request.user, base_url=request.build_absolute_uri("/")
        )
    except ServiceError as exc:
        messages.error(request, str(exc))
        target = reverse("tenders:detail", args=[tender.pk])
    else:
        if issued:  # the outside winner's credential, shown once
            response = render(
                request,
                "negotiator/credentials_issued.html",
                {"negotiation": negotiation, "issued": issued, "started": True},
            )
            response["Cache-Control"] = "no-store"
            return response
        target = reverse("negotiation_detail", args=[negotiation.pk])
    # htmx follows a client-side redirect (200); a plain form gets a 302.
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
