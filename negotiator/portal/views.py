"""The portal's pages. No login and no session: the invite secret in the path is
the credential, checked on every request (rate-limited per address before the
lookup, per link after it; each use recorded). A secret that does not open a
person's seat, for whatever reason, gets the same plain 404 page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from negotiator.llm.config import llm_enabled
from negotiator.llm.reading import fields_prefilled, free_text_read
from negotiator.models import CredentialKind, Participant, SeatCredential, SeatKind
from negotiator.portal.forms import ACTIONS, FreeTextForm, PortalMoveForm, term_field
from negotiator.portal.ratelimit import LimiterUnavailable, rate_allow
from negotiator.selectors import portal as portal_view
from negotiator.services import seats
from negotiator.services.errors import NotAllowed
from negotiator.views import login_client_address

MAX_SECRET = 200


def _headers(response: HttpResponse) -> HttpResponse:
    # The page's address is a credential: keep it out of search engines and
    # shared caches (never_cache covers the browser's).
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def portal_page(
    request: HttpRequest, template: str, context: dict, status: int = 200
) -> HttpResponse:
    """A page behind a secret link (this portal's, a tender's bid page)."""
    return _headers(render(request, template, context, status=status))


def portal_not_found(request: HttpRequest) -> HttpResponse:
    """Unknown, expired, revoked, an agent's token, a mistyped link: one answer."""
    return portal_page(request, "portal/not_found.html", {}, status=404)


def _refused(request: HttpRequest, status: int) -> HttpResponse:
    return portal_page(request, "portal/busy.html", {"status": status}, status=status)


def _allowed(key: str, limit: int) -> bool | None:
    """True within the limit, False over it, None when the limiter is down."""
    try:
        return rate_allow(key, limit=limit)
    except LimiterUnavailable:
        return None


def link_credential(
    request: HttpRequest,
    secret: str,
    *,
    verify: Callable[[str], Any],
    record: Callable[..., None],
    door: str,
) -> Any:
    """The live credential a secret link opens for this request, or the response
    that refuses it: 404 for any bad link (``verify`` raises NotAllowed), 429 over
    a limit, 503 without a limiter (fail closed). Rate-limited per address before
    the lookup (one count for every link door) and per link after it; each use is
    recorded (``record(credential=, address=, what=)``)."""
    if len(secret) > MAX_SECRET:
        return portal_not_found(request)
    address = login_client_address(request)
    allowed = _allowed(f"portal:address:{address}", settings.PORTAL_RATE_PER_ADDRESS)
    if not allowed:
        return _refused(request, 429 if allowed is False else 503)
    try:
        credential = verify(secret)
    except NotAllowed:
        return portal_not_found(request)
    allowed = _allowed(f"{door}:link:{credential.pk}", settings.PORTAL_RATE_PER_LINK)
    if not allowed:
        return _refused(request, 429 if allowed is False else 503)
    record(credential=credential, address=address, what=f"{door} {request.method.lower()}")
    return credential


def _person_invite(secret: str) -> SeatCredential:
    """A person seat's live invite credential (NotAllowed for anything else)."""
    credential = seats.seat_credential_verify(secret=secret, kind=CredentialKind.INVITE)
    if credential.participant.seat != SeatKind.PERSON:
        raise NotAllowed("This credential is not valid.")
    return credential


def _credential(request: HttpRequest, secret: str) -> SeatCredential | HttpResponse:
    """The live invite credential of a person's seat for this request, or the
    response that refuses it."""
    return link_credential(
        request,
        secret,
        verify=_person_invite,
        record=seats.seat_credential_use_record,
        door="portal",
    )


@login_not_required
@never_cache
@require_GET
def portal_home(request: HttpRequest) -> HttpResponse:
    """Where turn notices point: open the invite link you were sent."""
    return portal_page(request, "portal/home.html", {})


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def portal_seat(request: HttpRequest, secret: str) -> HttpResponse:
    credential = _credential(request, secret)
    if isinstance(credential, HttpResponse):
        return credential
    participant = credential.participant
    view = portal_view.portal_view(participant)
    if request.method == "POST":
        return _move(request, credential, view, secret)
    outcome = None
    message_id = request.GET.get("m", "")
    if message_id:
        outcome = portal_view.move_outcome(participant, _seat_message_id(message_id))
    form = PortalMoveForm(
        issues=view.fields,
        initial={
            "message_id": uuid.uuid4().hex,
            "on_table": view.standing.id if view.standing else None,
        },
    )
    return _render(request, view, form, outcome=outcome)


def _seat_message_id(form_id: str) -> str:
    """The portal's message ids, apart from those other doors send for a seat."""
    return f"portal-{form_id[:64]}"


def _render(
    request, view, form, *, outcome=None, status: int = 200, extra: dict | None = None
) -> HttpResponse:
    fields = [(issue, form[term_field(issue.name)]) for issue in view.fields]
    context = {"view": view, "form": form, "fields": fields, "outcome": outcome, "actions": ACTIONS}
    # Free text is offered only while a model is configured; without one the
    # page is exactly as before.
    context["free_text_form"] = FreeTextForm() if llm_enabled() else None
    secret = request.resolver_match.kwargs["secret"]
    # explicit targets: the read page's forms post back to the seat, not to /read/
    context["seat_action"] = reverse("portal:seat", args=[secret])
    context["read_action"] = reverse("portal:read", args=[secret])
    context.update(extra or {})
    return portal_page(request, "portal/seat.html", context, status=status)


@login_not_required
@never_cache
@require_POST
def portal_read(request: HttpRequest, secret: str) -> HttpResponse:
    """Read the person's free text into the counteroffer form. Nothing is sent:
    the page comes back with the form filled in, for them to check and send."""
    if not llm_enabled():
        return portal_not_found(request)
    credential = _credential(request, secret)
    if isinstance(credential, HttpResponse):
        return credential
    participant = credential.participant
    view = portal_view.portal_view(participant)
    text_form = FreeTextForm(request.POST)
    initial = {
        "message_id": uuid.uuid4().hex,
        "on_table": view.standing.id if view.standing else None,
    }
    if not view.may_move:
        form = PortalMoveForm(issues=view.fields, initial=initial)
        form.add_error(None, _not_now(view))
        return _render(request, view, form, status=409)
    if not text_form.is_valid():
        form = PortalMoveForm(issues=view.fields, initial=initial)
        return _render(request, view, form, status=400, extra={"free_text_form": text_form})
    text = text_form.cleaned_data["free_text"]
    reading = free_text_read(
        negotiation_id=view.negotiation_id,
        role=participant.role,
        fields=view.fields,
        on_table=view.standing is not None,
        text=text,
    )
    if reading.found:
        view = replace(view, fields=fields_prefilled(view.fields, reading))
        initial["message"] = text
    form = PortalMoveForm(issues=view.fields, initial=initial)
    return _render(request, view, form, extra={"reading": reading, "free_text_form": text_form})


def _move(request: HttpRequest, credential: SeatCredential, view, secret: str) -> HttpResponse:
    """Play the person's move; on success show its result on a fresh page (so a
    reload does not post again); on error the same form, problems in place; if the
    link was revoked or expired while the move waited, the page of a bad link."""
    participant = credential.participant
    form = PortalMoveForm(request.POST, issues=view.fields)
    if not form.is_valid():
        return _render(request, view, form, status=400)
    message_id = _seat_message_id(form.cleaned_data["message_id"])
    done = redirect(f"{reverse('portal:seat', args=[secret])}?m={form.cleaned_data['message_id']}")
    if portal_view.move_outcome(participant, message_id) is not None:
        return done  # posted before: the recorded move, nothing played again
    if not view.may_move:
        form.add_error(None, _not_now(view))
        return _render(request, view, form, status=409)
    on_table = form.cleaned_data.get("on_table")
    if on_table != (view.standing.id if view.standing else None):
        form.add_error(
            None,
            "The offer on the table changed since this page was loaded. Look at the new "
            "offer below and answer it.",
        )
        return _render(request, view, form, status=409)
    try:
        seats.seat_move_submit(
            participant=participant,
            move=_move_input(form, view),
            message_id=message_id,
            credential=credential,
        )
    except NotAllowed:
        return portal_not_found(request)
    except (seats.MoveInvalid, seats.MoveBlocked, seats.OutOfTurn) as exc:
        if portal_view.move_outcome(participant, message_id) is not None:
            # The same form, posted twice at once: the first post played it while
            # this one was checked against the table as it then stood.
            return done
        return _move_refused(request, participant, form, exc)
    return done


def _move_refused(
    request: HttpRequest, participant: Participant, form: PortalMoveForm, exc: Exception
) -> HttpResponse:
    """A move the service refused, on the page as it stands now, errors in place."""
    view = portal_view.portal_view(participant)
    if isinstance(exc, seats.MoveInvalid):
        form.show_problems(exc.problems)
        return _render(request, view, form, status=400)
    if isinstance(exc, seats.MoveBlocked):
        # Our policies are not the counterpart's to read: say what to do, not which rule.
        form.add_error(
            None,
            "This offer cannot be sent as it is: it breaks a rule this negotiation runs "
            "under. Change the terms or your message and send it again.",
        )
        return _render(request, view, form, status=400)
    form.add_error(None, _not_now(view))
    return _render(request, view, form, status=409)


def _move_input(form: PortalMoveForm, view) -> seats.MoveInput:
    action = form.cleaned_data["action"]
    if action == "counter":
        performative = "counter" if view.standing is not None else "propose"
        terms = form.terms()
    else:
        performative, terms = action, {}
    return seats.MoveInput(
        performative=performative,
        terms=terms,
        fixed_terms_hash=view.fixed_hash,
        rationale=form.cleaned_data.get("message") or "",
        in_reply_to=view.reply_to,
    )


def _not_now(view) -> str:
    if view.phase == portal_view.Phase.THEIR_TURN:
        return f"It is not your turn: the negotiation waits for {view.others}."
    if view.phase in (portal_view.Phase.STARTING, portal_view.Phase.PAUSED):
        return "No answer is expected from you right now; we e-mail you when it is your turn."
    return "This negotiation has ended; it takes no more offers."
