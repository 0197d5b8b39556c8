"""The approval inbox and request pages. Small views; services decide, selectors read.

One view serves the page and, for htmx requests, the partial it targets.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from approvals import selectors
from approvals.forms import BulkDecisionForm, DecisionForm, DelegationForm, InboxFilterForm
from approvals.models import ApprovalRequest, Delegation
from approvals.services import decisions
from approvals.services import delegations as delegation_services
from approvals.services.errors import ApprovalDenied
from negotiator.services.errors import Conflict, ServiceError, TransitionError


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "approvals/forbidden.html", {"message": message}, status=403)


def _inbox_context(request: HttpRequest, data) -> dict:
    form = InboxFilterForm(data or None)
    if form.is_bound:
        form.is_valid()
    filters = selectors.InboxFilters(
        status=form.value("status", "waiting"),
        route=form.value("route", None),
        playbook=form.value("playbook", None),
        q=form.value("q", ""),
        sort=form.value("sort", "due"),
    )
    days = form.value("days", 30)
    total, per_route = selectors.approval_metrics(user=request.user, days=days)
    rows = selectors.inbox_requests(request.user, filters)
    query = {k: v for k, v in vars(filters).items() if v not in (None, "") and k != "sort"}
    return {
        "rows": rows,
        "any_decidable": any(r.may_decide for r in rows),
        "filters": filters,
        "query": query,
        "sort_columns": _sort_columns(filters),
        "choices": selectors.filter_choices(request.user),
        "days": days,
        "periods": selectors.PERIODS,
        "metrics_total": total,
        "metrics_routes": per_route,
        "now": timezone.now(),
    }


def _sort_columns(filters: selectors.InboxFilters) -> dict[str, dict[str, str]]:
    """Per sortable column: the ?sort= value a click asks for, and aria-sort when active."""
    out = {}
    for key in selectors.INBOX_SORTS:
        active = filters.sort.lstrip("-") == key
        descending = filters.sort.startswith("-")
        out[key] = {
            "next": f"-{key}" if active and not descending else key,
            "aria": ("descending" if descending else "ascending") if active else "",
        }
    return out


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    context = _inbox_context(request, request.GET)
    if request.htmx and request.htmx.target == "metrics":
        return render(request, "approvals/inbox.html#metrics", context)
    if request.htmx and request.htmx.target == "inbox-table":
        return render(request, "approvals/inbox.html#inbox-table", context)
    return render(request, "approvals/inbox.html", context)


@require_POST
def bulk_decide(request: HttpRequest) -> HttpResponse:
    """Approve or reject the selected requests, one service call each: every one is
    checked (four eyes, own deal, already decided) and audited on its own, and the
    page lists what happened to each."""
    visible = list(
        selectors.visible_requests(request.user)
        .filter(status="pending")
        .values_list("pk", flat=True)
    )
    form = BulkDecisionForm(request.POST, visible=visible)
    if not form.is_valid():
        errors = [str(e) for errs in form.errors.values() for e in errs]
        context = _inbox_context(request, request.GET) | {"bulk_error": " ".join(errors)}
        return render(request, "approvals/inbox.html", context, status=400)
    results = []
    for pk in form.cleaned_data["requests"]:
        try:
            decisions.approval_decide(
                request=pk,
                user=request.user,
                decision=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"],
            )
            results.append((pk, True, "recorded"))
        except ServiceError as exc:
            results.append((pk, False, str(exc)))
    context = _inbox_context(request, request.GET)
    context["bulk_results"] = results
    context["bulk_decision"] = form.cleaned_data["decision"]
    response = render(request, "approvals/inbox.html", context)
    response["HX-Trigger"] = "approvals-changed"
    return response


def _load(request: HttpRequest, pk: int) -> ApprovalRequest:
    """The request if this person may see it; otherwise a 404, exactly like a
    missing one, so ids of other teams' requests are never confirmed."""
    try:
        return (
            selectors.visible_requests(request.user)
            .select_related(
                "negotiation__playbook_version",
                "negotiation__started_by",
                "route__approver_group",
                "offer",
            )
            .get(pk=pk)
        )
    except ApprovalRequest.DoesNotExist:
        raise Http404("No such approval request.") from None


def _detail_context(request: HttpRequest, approval: ApprovalRequest, **extra) -> dict:
    return {
        "approval": approval,
        "negotiation": approval.negotiation,
        "form": extra.pop("form", None) or DecisionForm(),
        **selectors.request_detail(request=approval, user=request.user),
        **extra,
    }


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    approval = _load(request, pk)
    context = _detail_context(request, approval)
    if request.htmx and request.htmx.target == "decision-panel":
        return render(request, "approvals/detail.html#decision-panel", context)
    return render(request, "approvals/detail.html", context)


@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    approval = _load(request, pk)
    form = DecisionForm(request.POST)
    status = 200
    error = ""
    if not form.is_valid():
        status = 400
        error = "Choose approve, reject or request changes (comments up to 4,000 characters)."
    else:
        try:
            decisions.approval_decide(
                request=approval.pk,
                user=request.user,
                decision=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"],
                constraints_text=form.cleaned_data["constraints"],
            )
        except ApprovalDenied as exc:
            status, error = 403, str(exc)
        except (Conflict, TransitionError) as exc:
            status, error = 409, str(exc)
        except ServiceError as exc:
            status, error = 400, str(exc)
    approval = _load(request, pk)
    if not error:
        done = f"Recorded: {form.cleaned_data['decision'].replace('_', ' ')}."
        if not request.htmx:
            messages.success(request, done)
            return redirect("approvals:detail", pk=pk)
        context = _detail_context(request, approval, notice=done)
        return _panel_with_page_state(request, context)
    context = _detail_context(request, approval, form=form, error=error)
    if request.htmx:
        return render(request, "approvals/detail.html#decision-panel", context, status=status)
    return render(request, "approvals/detail.html", context, status=status)


# What else on the page depends on a decision: swapped out of band with the panel.
_PAGE_STATE = ("request-head", "approval-progress")


def _panel_with_page_state(request: HttpRequest, context: dict) -> HttpResponse:
    """The decision panel, then the header (status, due, next request), the
    approvals count and the nav badge, each marked hx-swap-oob so one response
    leaves the whole page true."""
    parts = [render_to_string("approvals/detail.html#decision-panel", context, request)]
    oob = {**context, "oob": True}
    parts += [
        render_to_string(f"approvals/detail.html#{name}", oob, request) for name in _PAGE_STATE
    ]
    parts.append(render_to_string("_nav_badge.html", oob, request))
    response = HttpResponse("".join(parts))
    response["HX-Trigger"] = "approvals-changed"
    return response


@require_GET
def delegations(request: HttpRequest) -> HttpResponse:
    return _delegations_page(request, DelegationForm())


def _delegations_page(request: HttpRequest, form: DelegationForm, status: int = 200):
    now = timezone.now()
    return render(
        request,
        "approvals/delegations.html",
        {
            "form": form,
            "given": Delegation.objects.filter(delegator=request.user).select_related("delegate"),
            "received": Delegation.objects.filter(delegate=request.user).select_related(
                "delegator"
            ),
            "now": now,
        },
        status=status,
    )


@require_POST
def delegation_create(request: HttpRequest) -> HttpResponse:
    form = DelegationForm(request.POST)
    if not form.is_valid():
        return _delegations_page(request, form, status=400)
    try:
        delegation = delegation_services.delegation_create(
            delegator=request.user,
            delegate=form.cleaned_data["delegate"],
            starts_at=form.cleaned_data["starts_at"],
            ends_at=form.cleaned_data["ends_at"],
            note=form.cleaned_data["note"],
        )
    except ServiceError as exc:
        form.add_error(None, str(exc))
        return _delegations_page(request, form, status=400)
    messages.success(
        request,
        f"{delegation.delegate.get_username()} can decide for you until "
        f"{timezone.localtime(delegation.ends_at):%Y-%m-%d %H:%M}.",
    )
    return redirect(reverse("approvals:delegations"))


@require_POST
def delegation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    delegation = get_object_or_404(Delegation, pk=pk)
    try:
        delegation_services.delegation_revoke(delegation=delegation, user=request.user)
    except ApprovalDenied as exc:
        return _forbidden(request, str(exc))
    messages.success(request, "Delegation revoked.")
    return redirect(reverse("approvals:delegations"))
