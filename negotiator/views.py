"""Dashboard views: small functions; one view serves a page and, for htmx
requests, its partial. Reads come from selectors, writes go through services."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from negotiator import health, permissions
from negotiator.audit import chain_of
from negotiator.forms import (
    CloseForm,
    CounterForm,
    NegotiationForm,
    OverrideDecisionForm,
    OverrideRequestForm,
    ResumeForm,
    list_filters_from,
)
from negotiator.models import Negotiation
from negotiator.selectors import audit as audit_view
from negotiator.selectors import (
    audit_filters,
    audit_trail,
    charts,
    exports,
    formatting,
    lists,
    negotiations,
    plan_lines,
)
from negotiator.selectors import checkpoints as checkpoint_view
from negotiator.selectors import escalations as escalation_view
from negotiator.selectors import seats as seat_view
from negotiator.selectors.visibility import playbooks_startable_by
from negotiator.services import escalations, invites, lifecycle, plans
from negotiator.services import seats as seat_service
from negotiator.services.errors import ServiceError

POLL_STOP = 286  # htmx stops a polling trigger on this status


def _negotiation_or_404(request: HttpRequest, pk: int) -> Negotiation:
    """The negotiation if this user may see it. Another team's negotiation is a
    404, exactly like a missing one, so its id is never confirmed."""
    try:
        return negotiations.negotiation_for_page(pk, user=request.user)
    except Negotiation.DoesNotExist:
        raise Http404("No such negotiation.") from None


def _may_act_or_403(request: HttpRequest, negotiation: Negotiation, action: str) -> None:
    if not permissions.may_act_on(request.user, negotiation):
        raise PermissionDenied(f"Only operators of this negotiation's team may {action} it.")


def _int_param(request: HttpRequest, name: str) -> int | None:
    """An optional non-negative integer query parameter; a bad value is a 400."""
    raw = request.GET.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValueError(f"'{name}' must be a non-negative whole number.")
    return int(raw)


# --------------------------------------------------------------------------
# Home and health
# --------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    summary = lists.home_summary(user=request.user)
    template = "negotiator/home.html#home-live" if request.htmx else "negotiator/home.html"
    return render(
        request,
        template,
        {"summary": summary, "may_operate": permissions.may_operate(request.user)},
    )


@never_cache
@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The readiness probe: up/down per component for anyone; the details (which
    name hosts and errors) only for logged-in staff."""
    report = health.health_report()
    body = report.public()
    if request.user.is_authenticated and request.user.is_staff:
        body["details"] = report.details
    return JsonResponse(body, status=report.http_status)


def login_client_address(request: HttpRequest) -> str:
    """The address login attempts are counted under (AXES_CLIENT_IP_CALLABLE)."""
    proxies = settings.NEGOTIATOR_LOGIN_PROXY_COUNT
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def login_locked_out(request: HttpRequest, response=None, credentials=None) -> HttpResponse:
    """What django-axes answers while a username and address are locked out: the
    login page with the reason and what to do (AXES_LOCKOUT_CALLABLE)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username[:150]})
    context = {
        "form": form,
        "locked_out": True,
        "lockout_minutes": settings.NEGOTIATOR_LOGIN_LOCKOUT_MINUTES,
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    return render(request, "registration/login.html", context, status=429)


# --------------------------------------------------------------------------
# The list
# --------------------------------------------------------------------------


@require_GET
def negotiation_list(request: HttpRequest) -> HttpResponse:
    filters = list_filters_from(request.GET)
    result = lists.negotiation_list(filters, user=request.user)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "result": result,
        "filters": filters,
        "sorts": [(k, label) for k, (label, _) in lists.SORTS.items()],
        "query": query.urlencode(),
        "may_operate": permissions.may_operate(request.user),
    }
    if request.htmx and request.htmx.target == "negotiation-rows":
        return render(request, "negotiator/list.html#rows", context)
    return render(request, "negotiator/list.html", context)


@require_GET
def negotiation_list_export(request: HttpRequest) -> StreamingHttpResponse:
    """The list as CSV, with the page's search, status and sort applied."""
    filters = list_filters_from(request.GET)
    response = StreamingHttpResponse(
        exports.negotiation_csv_lines(filters, user=request.user),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="negotiations.csv"'
    return response


@require_GET
def negotiation_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """Two offers of one negotiation side by side (?a=<offer id>&b=<offer id>)."""
    negotiation = _negotiation_or_404(request, pk)
    comparison = exports.offers_compare(negotiation, request.GET.get("a"), request.GET.get("b"))
    return render(
        request, "negotiator/compare.html", {"negotiation": negotiation, "cmp": comparison}
    )


# --------------------------------------------------------------------------
# Starting one
# --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def negotiation_new(request: HttpRequest) -> HttpResponse:
    if not permissions.may_operate(request.user):
        raise PermissionDenied("Only operators may start negotiations.")
    # Operators start negotiations from their own teams' playbooks only; another
    # team's playbook is not a valid choice (400), as if it did not exist.
    startable = playbooks_startable_by(request.user)
    if request.method == "POST":
        form = NegotiationForm(request.POST, playbooks=startable)
        if form.is_valid():
            once = _form_once(request)
            if once and not _once_claim(once):
                return _started_before(request, form, cache.get(once))
            try:
                started, response = _negotiation_start(request, form)
            except ServiceError as exc:
                form.add_error(None, str(exc))
                _once_set(once, None)
            else:
                _once_set(once, started)
                return response
        status = 400
    else:
        playbook = None
        raw = request.GET.get("playbook", "")
        if raw.isdigit():
            playbook = startable.filter(pk=int(raw)).first()
        form = NegotiationForm(
            initial={"playbook": playbook}, playbook=playbook, playbooks=startable
        )
        status = 200
        if request.htmx and request.htmx.target == "playbook-details":
            return render(request, "negotiator/new.html#playbook-details", {"form": form})
    context = {"form": form, "once": uuid.uuid4().hex}
    return render(request, "negotiator/new.html", context, status=status)


FORM_ONCE_SECONDS = 3600


def _form_once(request: HttpRequest) -> str:
    """The cache key of this rendering of the form: posted twice (a reload of the
    page that shows credentials once, a double click) it starts one negotiation."""
    token = request.POST.get("once", "")
    if len(token) != 32 or not all(c in "0123456789abcdef" for c in token):
        return ""
    return f"negotiation-new:{request.user.pk}:{token}"


def _once_claim(key: str) -> bool:
    """False when this rendering of the form was posted before. Without a working
    cache every post counts as the first (as before the guard existed)."""
    try:
        return cache.add(key, 0, FORM_ONCE_SECONDS)
    except Exception:
        return True


def _once_set(key: str, negotiation_pk: int | None) -> None:
    """Remember what the post started (None: it failed, so it may be sent again)."""
    if not key:
        return
    try:
        if negotiation_pk is None:
            cache.delete(key)
        else:
            cache.set(key, negotiation_pk, FORM_ONCE_SECONDS)
    except Exception:
        return


def _started_before(request: HttpRequest, form: NegotiationForm, pk: int | None) -> HttpResponse:
    if not pk:
        form.add_error(None, "This form is being sent already; wait a moment, then reload.")
        context = {"form": form, "once": uuid.uuid4().hex}
        return render(request, "negotiator/new.html", context, status=409)
    messages.info(
        request,
        "This form was sent before and started the negotiation below; it was not started "
        "again. Credentials of outside seats are shown only once: issue new ones here if "
        "you did not copy them.",
    )
    return redirect("negotiation_detail", pk=pk)


def _negotiation_start(request: HttpRequest, form: NegotiationForm) -> tuple[int, HttpResponse]:
    """Start the negotiation the form describes. With outside seats, the page that
    shows their credentials once; otherwise the negotiation's page."""
    data = form.cleaned_data
    common = {
        "playbook": data["playbook"],
        "user": request.user,
        "title": data["title"],
        "overrides": lifecycle.LimitOverrides(
            max_rounds=data["max_rounds"],
            deadline_minutes=data["deadline_minutes"],
            pace_seconds=data["pace_seconds"],
        ),
        "strategies": form.strategies(),
    }
    seats = form.seats()
    if seats:
        negotiation, issued = invites.negotiation_create_with_seats(
            seats=seats, invitees=form.invitees(), base_url=_base_url(request), **common
        )
        response = _credentials_page(request, negotiation, issued, started=True)
    else:
        negotiation = lifecycle.negotiation_create(**common)
        messages.success(request, f"Started “{negotiation}”. Offers appear below as it runs.")
        response = redirect("negotiation_detail", pk=negotiation.pk)
    return negotiation.pk, response


def _base_url(request: HttpRequest) -> str:
    return invites.base_url_for(request.build_absolute_uri("/"))


def _credentials_page(
    request: HttpRequest, negotiation: Negotiation, issued, *, started: bool
) -> HttpResponse:
    """Secrets shown once: the page is never cached, by the browser or anyone."""
    response = render(
        request,
        "negotiator/credentials_issued.html",
        {"negotiation": negotiation, "issued": issued, "started": started},
    )
    add_never_cache_headers(response)
    return response


# --------------------------------------------------------------------------
# One negotiation
# --------------------------------------------------------------------------


def _escalation_forms(negotiation: Negotiation, escalation) -> dict:
    """The escalation banner's forms, unbound (a failed action passes its bound one)."""
    if escalation is None:
        return {}
    spec = negotiation.playbook_version.spec
    counter = None
    if escalation.can_counter:
        counter = CounterForm(issues=spec.get("issues", []), terms=escalation.initial_terms)
    policies = [(p.policy_id, f"{p.name} ({p.severity})") for p in escalation.overridable]
    return {
        "counter_form": counter,
        "override_form": OverrideRequestForm(policies=policies) if policies else None,
    }


def _state_context(request: HttpRequest, negotiation: Negotiation, parties) -> dict:
    now = timezone.now()
    escalation = escalation_view.escalation_view(negotiation, request.user, now=now)
    return {
        "negotiation": negotiation,
        "parties": parties,
        "approvals": negotiations.approval_requests_of(negotiation),
        "may_operate": permissions.may_act_on(request.user, negotiation),
        "resume_form": ResumeForm(),
        "close_form": CloseForm(),
        "escalation": escalation,
        **_escalation_forms(negotiation, escalation),
        "now": now,
        "turn": seat_view.turn_of(negotiation, parties),
        "progress": formatting.progress_percent(negotiation.current_round, negotiation.max_rounds),
        "plan_terms": formatting.term_views(
            negotiation.agreed_terms,
            formatting.issue_meta(negotiation.playbook_version.spec.get("issues")),
        ),
    }


@require_GET
def negotiation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    negotiation = _negotiation_or_404(request, pk)
    parties = negotiations.parties_of(negotiation, request.user)
    offers, has_earlier = negotiations.timeline_latest(negotiation, parties)
    context = {
        **_state_context(request, negotiation, parties),
        "offers": offers,
        "has_earlier": has_earlier,
        "last_offer_id": offers[-1].id if offers else 0,
        "chart": charts.concession_chart(negotiation, parties),
        "outcome_chart": charts.outcome_chart(negotiation, parties),
        "issues": list(
            formatting.issue_meta(negotiation.playbook_version.spec.get("issues")).values()
        ),
        "fixed_terms": negotiation.playbook_version.spec.get("fixed_terms", {}),
        "outside_seats": seat_view.outside_seats_of(negotiation),
        "coalition": plan_lines.coalition_view(negotiation, parties),
    }
    return render(request, "negotiator/detail.html", context)


@require_GET
def negotiation_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The live cursor: offers after `after` (polling), or a page before `before`."""
    try:
        after = _int_param(request, "after")
        before = _int_param(request, "before")
        known_round = _int_param(request, "round")
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    known_status = request.GET.get("status", "")
    if before is not None:
        negotiation = _negotiation_or_404(request, pk)
        parties = negotiations.parties_of(negotiation, request.user)
        offers, has_earlier = negotiations.timeline_before(negotiation, parties, before)
        return render(
            request,
            "negotiator/detail.html#earlier",
            {"negotiation": negotiation, "offers": offers, "has_earlier": has_earlier},
        )
    after = after or 0
    head = negotiations.poll_head(pk, after=after, user=request.user)
    if head is None:
        raise Http404("No such negotiation.")
    unchanged = head.status == known_status and head.current_round == known_round
    if not head.has_new_offers and unchanged:
        # Nothing new: an empty answer keeps the poller going (or stops it when final).
        return HttpResponse(status=POLL_STOP if head.is_final else 204)
    negotiation = _negotiation_or_404(request, pk)
    parties = negotiations.parties_of(negotiation, request.user)
    meta = formatting.issue_meta(negotiation.playbook_version.spec.get("issues"))
    offers = negotiations.offer_views(
        negotiation, negotiations.offers_after(pk, after), parties, meta
    )
    context = {
        **_state_context(request, negotiation, parties),
        "offers": offers,
        "last_offer_id": offers[-1].id if offers else after,
        "outcome_chart": (
            charts.outcome_chart(negotiation, parties) if negotiation.is_final else None
        ),
        "first_poll": after == 0,
        "oob": True,
    }
    response = render(request, "negotiator/detail.html#poll", context)
    if offers:
        # The chart refreshes itself on this event (throttled), outside the poll.
        response["HX-Trigger"] = "negotiation-changed"
    return response


@require_GET
def negotiation_chart(request: HttpRequest, pk: int) -> HttpResponse:
    negotiation = _negotiation_or_404(request, pk)
    parties = negotiations.parties_of(negotiation, request.user)
    return render(
        request,
        "negotiator/detail.html#chart",
        {"negotiation": negotiation, "chart": charts.concession_chart(negotiation, parties)},
    )


def _action_response(
    request: HttpRequest,
    negotiation: Negotiation,
    *,
    error: str = "",
    notice: str = "",
    action: str = "",
    forms: dict | None = None,
) -> HttpResponse:
    """The negotiation's state after an action. For htmx, the error shows in place
    (next to the form named by ``action``, with its bound ``forms``); otherwise a
    message and a redirect to the page."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif notice:
            messages.success(request, notice)
        return redirect("negotiation_detail", pk=negotiation.pk)
    negotiation = _negotiation_or_404(request, negotiation.pk)
    parties = negotiations.parties_of(negotiation, request.user)
    context = _state_context(request, negotiation, parties)
    context = {
        **context,
        **(forms if error and forms else {}),
        "action_error": error,
        "action_notice": notice,
        # In place only next to a form the banner shows; elsewhere on top.
        "action": action if error and _shows_form(action, context) else "",
        "last_offer_id": int(request.POST.get("last_offer_id") or 0)
        if (request.POST.get("last_offer_id") or "").isdigit()
        else 0,
        "oob": True,
    }
    return render(request, "negotiator/detail.html#action-result", context)


def _shows_form(action: str, context: dict) -> bool:
    escalation = context.get("escalation")
    if escalation is None or not context.get("may_operate"):
        return False
    return {
        "accept": bool(escalation.accept_label),
        "counter": context.get("counter_form") is not None,
        "override": context.get("override_form") is not None,
        "override-decide": bool(escalation.overrides),
        "resume": True,
        "close": True,
    }.get(action, False)


@require_POST
def negotiation_resume(request: HttpRequest, pk: int) -> HttpResponse:
    negotiation = _negotiation_or_404(request, pk)
    _may_act_or_403(request, negotiation, "resume")
    form = ResumeForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items())
        return _action_response(request, negotiation, error=errors, action="resume")
    try:
        lifecycle.negotiation_resume(
            negotiation=negotiation,
            user=request.user,
            extra_rounds=form.cleaned_data["extra_rounds"],
            extra_minutes=form.cleaned_data["extra_minutes"],
        )
    except ServiceError as exc:
        return _action_response(request, negotiation, error=str(exc), action="resume")
    return _action_response(request, negotiation, notice="Resumed: the parties negotiate again.")


@require_POST
def negotiation_close(request: HttpRequest, pk: int) -> HttpResponse:
    negotiation = _negotiation_or_404(request, pk)
    _may_act_or_403(request, negotiation, "close")
    form = CloseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        lifecycle.negotiation_close(negotiation=negotiation, user=request.user, reason=reason)
    except ServiceError as exc:
        return _action_response(request, negotiation, error=str(exc), action="close")
    return _action_response(request, negotiation, notice="Closed: the negotiation was cancelled.")


# --------------------------------------------------------------------------
# Outside seats' credentials
# --------------------------------------------------------------------------


@require_POST
def seat_credential_issue(request: HttpRequest, pk: int) -> HttpResponse:
    """A new credential for one outside seat (posted: ``role``), shown once; a
    person's new invite link is mailed to them as well."""
    negotiation = _negotiation_or_404(request, pk)
    _may_act_or_403(request, negotiation, "issue credentials for")
    try:
        issued = invites.seat_credential_new(
            negotiation=negotiation,
            role=request.POST.get("role", ""),
            user=request.user,
            base_url=_base_url(request),
        )
    except ServiceError as exc:
        return _seats_response(request, negotiation, error=str(exc))
    if not request.htmx:
        return _credentials_page(request, negotiation, [issued], started=False)
    response = _seats_response(request, negotiation, issued=[issued])
    add_never_cache_headers(response)
    return response


@require_POST
def seat_credential_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of this negotiation's credentials (posted: ``credential``); from
    then on it opens nothing."""
    negotiation = _negotiation_or_404(request, pk)
    _may_act_or_403(request, negotiation, "revoke credentials of")
    raw = request.POST.get("credential", "")
    credential = (
        seat_view.credential_of(negotiation, int(raw)) if raw.isdigit() and len(raw) < 19 else None
    )
    if credential is None:
        return _seats_response(
            request, negotiation, error="No such credential on this negotiation."
        )
    if credential.revoked_at is not None:
        return _seats_response(
            request, negotiation, notice=f"{credential.prefix}… was already revoked."
        )
    seat_service.seat_credential_revoke(credential=credential, user=request.user)
    return _seats_response(
        request, negotiation, notice=f"Revoked {credential.prefix}…: it opens nothing any more."
    )


def _seats_response(
    request: HttpRequest, negotiation: Negotiation, *, error: str = "", notice: str = "", issued=()
) -> HttpResponse:
    """The outside seats card (htmx), or back to the page with the message."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif notice:
            messages.success(request, notice)
        return redirect("negotiation_detail", pk=negotiation.pk)
    context = {
        "negotiation": negotiation,
        "outside_seats": seat_view.outside_seats_of(negotiation),
        "may_operate": permissions.may_act_on(request.user, negotiation),
        "seats_error": error,
        "seats_notice": notice,
        "issued": issued,
    }
    return render(request, "negotiator/_outside_seats.html", context)


@require_POST
def negotiation_accept(request: HttpRequest, pk: int) -> HttpResponse:
    """A person accepts the offer on the table for our seat (or sends an agreement
    the gate could not route to the gate again)."""
    negotiation = _negotiation_or_404(request, pk)
    _may_act_or_403(request, negotiation, "accept offers in")
    try:
        negotiation = escalations.escalation_accept(negotiation=negotiation, user=request.user)
    except ServiceError as exc:
        return _action_response(request, negotiation, error=str(exc), action="accept")
    notice = f"Done: the negotiation is {negotiation.get_status_display().lower()}."
    return _action_response(request, negotiation, notice=notice)


@require_POST
def negotiation_counter(request: HttpRequest, pk: int) -> HttpResponse:
    """A person's counteroffer for our seat, checked by the same policies."""
    negotiation = _negotiation_or_404(request, pk)
    _may_act_or_403(request, negotiation, "counter offers in")
    issues = negotiation.playbook_version.spec.get("issues", [])
    form = CounterForm(request.POST, issues=issues, terms={})
    forms = {"counter_form": form}
    if not form.is_valid():
        error = "Check the terms of your counteroffer."
        return _action_response(request, negotiation, error=error, action="counter", forms=forms)
    try:
        negotiation = escalations.escalation_counter(
            negotiation=negotiation,
            user=request.user,
            terms=form.terms(),
            rationale=form.cleaned_data["rationale"],
        )
    except ServiceError as exc:
        return _action_response(request, negotiation, error=str(exc), action="counter", forms=forms)
    notice = f"Sent. The negotiation is {negotiation.get_status_display().lower()}."
    return _action_response(request, negotiation, notice=notice)


@require_POST
def negotiation_override_request(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask to waive one failed policy in this negotiation (a second person approves)."""
    negotiation = _negotiation_or_404(request, pk)
    _may_act_or_403(request, negotiation, "override policies in")
    overridable = escalation_view.overridable_policies(negotiation)
    form = OverrideRequestForm(request.POST, policies=[(p.policy_id, p.name) for p in overridable])
    forms = {"override_form": form}
    if not form.is_valid():
        error = "Choose a policy that stopped a move here and say why (10 characters or more)."
        return _action_response(request, negotiation, error=error, action="override", forms=forms)
    try:
        escalations.policy_override_request(
            negotiation=negotiation,
            user=request.user,
            policy_id=form.cleaned_data["policy"],
            justification=form.cleaned_data["justification"],
        )
    except ServiceError as exc:
        return _action_response(
            request, negotiation, error=str(exc), action="override", forms=forms
        )
    notice = "Override requested: another operator of the team must approve it."
    return _action_response(request, negotiation, notice=notice)


@require_POST
def negotiation_override_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject an override someone else asked for (four eyes)."""
    negotiation = _negotiation_or_404(request, pk)
    _may_act_or_403(request, negotiation, "decide overrides in")
    form = OverrideDecisionForm(request.POST)
    if not form.is_valid():
        error = "Choose approve or reject (comments up to 4,000 characters)."
        return _action_response(request, negotiation, error=error, action="override-decide")
    approve = form.cleaned_data["decision"] == "approve"
    try:
        escalations.policy_override_decide(
            negotiation=negotiation,
            user=request.user,
            override_id=form.cleaned_data["override"],
            approve=approve,
            comment=form.cleaned_data["comment"],
        )
    except ServiceError as exc:
        return _action_response(request, negotiation, error=str(exc), action="override-decide")
    notice = (
        "Override approved: the policy is waived in this negotiation; resume it."
        if approve
        else "Override rejected."
    )
    return _action_response(request, negotiation, notice=notice)


@require_GET
def negotiation_plan_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The approved plan as CSV: one row per plan line (who, what, when, how much)."""
    negotiation = _negotiation_or_404(request, pk)
    try:
        plan = plans.plan_export(negotiation=negotiation)
    except ServiceError as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(plan_lines.plan_csv(plan), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="negotiation-{pk}-plan.csv"'
    return response


@require_GET
def negotiation_plan(request: HttpRequest, pk: int) -> HttpResponse:
    negotiation = _negotiation_or_404(request, pk)
    try:
        plan = plans.plan_export(negotiation=negotiation)
    except ServiceError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    response = JsonResponse(plan, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="negotiation-{pk}-plan.json"'
    return response


# --------------------------------------------------------------------------
# Audit
# --------------------------------------------------------------------------


@require_GET
def negotiation_audit(request: HttpRequest, pk: int) -> HttpResponse:
    negotiation = _negotiation_or_404(request, pk)
    trail = audit_trail.negotiation_trail(negotiation)
    redactor = audit_view.redactor_for(negotiation, request.user)
    filters = audit_filters.audit_filters_from(request.GET)
    found = audit_filters.audit_filtered(negotiation, filters, redactor)
    page = Paginator(found, audit_view.AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = page.object_list
    if not isinstance(found, list):
        rows = audit_view.audit_rows(rows, redactor)
    return render(
        request,
        "negotiator/audit.html",
        {
            "negotiation": negotiation,
            "trail": trail,
            "report": trail.report,
            "may_audit": permissions.is_auditor(request.user),
            "page": page,
            "rows": rows,
            "filters": filters,
            "filter_query": filters.query(),
            "choices": audit_filters.audit_choices(negotiation),
            "redacted": not redactor.sees_all,
        },
    )


@require_GET
def negotiation_audit_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in ("json", "csv"):
        raise Http404("Export as .json or .csv.")
    negotiation = _negotiation_or_404(request, pk)
    redactor = audit_view.redactor_for(negotiation, request.user)
    if fmt == "csv":
        response = StreamingHttpResponse(
            audit_view.audit_csv_lines(negotiation, redactor),
            content_type="text/csv; charset=utf-8",
        )
    else:
        document = audit_view.audit_document(negotiation, redactor)
        response = JsonResponse(document, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="negotiation-{pk}-audit.{fmt}"'
    return response


@require_GET
def negotiation_audit_checkpoint(request: HttpRequest, pk: int) -> HttpResponse:
    """The latest signed checkpoint cut down to this negotiation's chain, for
    auditors to verify an export offline (negotiator/audit_offline.py)."""
    negotiation = _negotiation_or_404(request, pk)
    status = checkpoint_view.checkpoint_status()
    extract = checkpoint_view.checkpoint_extract(status, chain_of(negotiation))
    if extract is None:
        reason = status.warning or f"{status.label} was written before this negotiation began."
        return JsonResponse({"error": reason}, status=404)
    response = JsonResponse(extract, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="negotiation-{pk}-checkpoint.json"'
    return response


@require_GET
def audit_status(request: HttpRequest) -> HttpResponse:
    """Auditors: the latest checkpoint and every chain it recorded compared with
    the database now (the full check is `manage.py verify_audit`)."""
    if not permissions.is_auditor(request.user):
        raise PermissionDenied("Only auditors may see every audit chain.")
    status = checkpoint_view.checkpoint_status()
    context = {
        "status": status,
        "age": checkpoint_view.checkpoint_age_seconds(status),
        "problems": [*status.problems, *checkpoint_view.heads_compared(status)],
    }
    return render(request, "negotiator/audit_status.html", context)


@require_GET
def audit_checkpoint_download(request: HttpRequest, what: str) -> HttpResponse:
    """Auditors: the whole latest checkpoint, or the public key to verify it."""
    if not permissions.is_auditor(request.user):
        raise PermissionDenied("Only auditors may download the whole checkpoint.")
    status = checkpoint_view.checkpoint_status()
    if what == "public-key.pem" and checkpoint_view.public_key_pem():
        response = HttpResponse(checkpoint_view.public_key_pem(), content_type="text/plain")
    elif what == "checkpoint.json" and status.document is not None:
        response = JsonResponse(status.document, json_dumps_params={"indent": 2})
    else:
        raise Http404(status.warning or "No such download.")
    response["Content-Disposition"] = f'attachment; filename="audit-{what}"'
    return response
