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
from tenders.models import TenderPlaybook, TenderStatus
from tenders.selectors import charts, metrics
from tenders.selectors import tenders as selectors
from tenders.services.final import tender_final_negotiation_start
from tenders.services.lifecycle import tender_create

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
            "may_operate": permissions.may_operate(request.user),
            "nav_active": "tenders",
        },
    )


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
        tender = tender_create(
            template=TenderPlaybook.objects.get(pk=template.pk),
            title=request.POST.get("title", "")[:180],
            overrides={"format": fmt} if fmt else None,
            user=request.user,
        )
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("tenders:list")
    return redirect("tenders:detail", pk=tender.pk)


@require_GET
def tender_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tender = selectors.tender_for(request.user, pk)
    context = {
        **selectors.tender_page(tender, request.user),
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
        negotiation = tender_final_negotiation_start(tender=tender, user=request.user)
    except ServiceError as exc:
        messages.error(request, str(exc))
        target = reverse("tenders:detail", args=[tender.pk])
    else:
        target = reverse("negotiation_detail", args=[negotiation.pk])
    # htmx follows a client-side redirect (200); a plain form gets a 302.
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
