"""The bid portal: an outside person's page for one tender. No login and no
session: the secret in the path is the credential, checked on every request
(rate-limited per address before the lookup, per link after it; each use
recorded). A secret that does not open a person bidder, for whatever reason,
gets the same plain 404 page."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from negotiator.portal.views import link_credential, portal_not_found, portal_page
from negotiator.selectors.formatting import format_value, issue_meta, term_views
from negotiator.selectors.portal import IssueField, issue_fields
from negotiator.services.errors import NotAllowed
from tenders.models import BidderCredential, BidderKind, TenderStatus
from tenders.services import outside

MESSAGE_ID = re.compile(r"^[0-9a-f]{32}$")
CLOSED = {
    TenderStatus.PENDING_APPROVAL: "Bidding has closed. The award is being decided.",
    TenderStatus.ESCALATED: "Bidding has closed. The award is being decided.",
    TenderStatus.REJECTED: "Bidding has closed without an award.",
    TenderStatus.NO_AWARD: "Bidding has closed without an award.",
    TenderStatus.CANCELLED: "The buyer cancelled this tender.",
}


def term_field(name: str) -> str:
    return f"term_{name}"


class BidForm(forms.Form):
    """Parses what was typed (a number is a number); whether the bid may stand is
    decided by outside.outside_bid_submit, as for an agent's bid."""

    # One per rendered form: the same form posted twice is one bid.
    message_id = forms.RegexField(regex=MESSAGE_ID, widget=forms.HiddenInput)

    def __init__(self, *args: Any, issues: list[IssueField], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.issues = issues
        for issue in issues:
            label = issue.label
            self.fields[term_field(issue.name)] = (
                forms.FloatField(
                    label=label, error_messages={"required": f"Enter the {label.lower()}."}
                )
                if issue.kind == "numeric"
                else forms.CharField(label=label, max_length=200)
            )

    def terms(self) -> dict[str, Any]:
        out = {}
        for issue in self.issues:
            value = self.cleaned_data[term_field(issue.name)]
            out[issue.name] = (
                int(value) if isinstance(value, float) and value.is_integer() else value
            )
        return out

    def show_refusal(self, message: str) -> None:
        """The service's reason next to the term it names, else above the form."""
        for issue in self.issues:
            if re.search(rf"\b{re.escape(issue.name)}\b", message):
                rule = f"Use a value from {issue.hint}." if issue.kind == "numeric" else ""
                self.add_error(term_field(issue.name), f"{message[0].upper()}{message[1:]}. {rule}")
                return
        self.add_error(None, f"{message[0].upper()}{message[1:]}.")


def _verify(secret: str) -> BidderCredential:
    return outside.bidder_credential_verify(secret=secret, kind=BidderKind.PERSON)


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def bid_page(request: HttpRequest, secret: str) -> HttpResponse:
    credential = link_credential(
        request, secret, verify=_verify, record=outside.bidder_credential_use_record, door="bid"
    )
    if isinstance(credential, HttpResponse):
        return credential
    bidder = credential.bidder
    page = outside.bidder_page(bidder)
    fields = _fields(page)
    if request.method == "GET":
        form = BidForm(issues=fields, initial={"message_id": uuid.uuid4().hex})
        return _render(request, page, form, sent=request.GET.get("sent") == "1")
    form = BidForm(request.POST, issues=fields)
    if not form.is_valid():
        return _render(request, page, form, status=400)
    try:
        outside.outside_bid_submit(
            bidder=bidder,
            terms=form.terms(),
            message_id=f"portal-{form.cleaned_data['message_id']}",
            via="portal",
            credential=credential,
        )
    except NotAllowed:  # the link was revoked or expired while the bid waited
        return portal_not_found(request)
    except outside.BiddingClosed as exc:
        form.add_error(None, str(exc))
        return _render(request, outside.bidder_page(bidder), form, status=409)
    except outside.BidRefused as exc:
        form.show_refusal(str(exc).removeprefix("the bid cannot stand: "))
        return _render(request, page, form, status=400)
    return redirect(f"{reverse('tenders:bid', args=[secret])}?sent=1")


def _fields(page: outside.BidderPage) -> list[IssueField]:
    """The form's controls, prefilled with its pending bid, else its last bid, else
    the opening price (a number to start from, never the reserve)."""
    spec = page.tender.playbook_version.spec
    values = dict(page.pending or page.view.own_last or {})
    if not values and page.view.opening_price is not None:
        values[page.price_issue] = page.view.opening_price
    # A bid takes any value in range (prices in cents): no step rule to promise.
    return [
        replace(f, hint=f.hint.split(", in steps of")[0], step="any") if f.kind == "numeric" else f
        for f in issue_fields(spec, values)
    ]


def _render(request, page, form, *, status: int = 200, sent: bool = False) -> HttpResponse:
    meta = issue_meta(page.tender.playbook_version.spec.get("issues"))
    unit = meta[page.price_issue].unit if page.price_issue in meta else ""
    view = page.view
    context = {
        "page": page,
        "form": form,
        "fields": [(issue, form[term_field(issue.name)]) for issue in form.issues],
        "sent": sent,
        "closed": CLOSED.get(page.tender.status, ""),
        "won": page.tender.status == TenderStatus.AWARDED
        and page.tender.award_supplier == page.bidder.supplier.name,
        "own_last": term_views(view.own_last, meta) if view.own_last else [],
        "pending": term_views(page.pending, meta) if page.pending else [],
        "best_equivalent": _money(view.best_price_equivalent, unit),
        "price_to_stand": _money(view.price_to_stand, unit),
        "decrement": _money(view.min_decrement, unit),
        "opening": _money(view.opening_price, unit),
        "english": page.format == "reverse_english",
        "action": reverse("tenders:bid", args=[request.resolver_match.kwargs["secret"]]),
    }
    return portal_page(request, "tenders/bid.html", context, status=status)


def _money(value: float | None, unit: str) -> str:
    return "" if value is None else format_value(round(value, 2), unit)
