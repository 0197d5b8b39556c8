"""Outside bidders: a supplier's person (through the bid portal) or a supplier's
agent (over A2A) bidding in a tender beside the built-in bidders.

Each outside bidder has its own credential (shown once, stored as a hash, scoped
to that one bidder of that one tender, expiring, revocable, every use audited).
Its bid for the open round is checked as it arrives (malformed terms; in rounds,
the minimum decrement against what the format lets it see), kept as pending, and
played with the round by the same engine code as the built-in bidders' moves
(tenders.services.rounds): the same checks again, the policy verdict, the soft
close. A bid message is idempotent by its message id. What a bidder is shown is
engine.auctions.outside_view: its own bids and the feedback the format allows,
never another bidder, the reserve or anyone's private cost.

Lock order, as in a round: the tender's row, then the audit chain.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from negotiator.engine.auctions import OutsideView, Submission, outside_view, submission_refused
from negotiator.services.errors import Conflict, NotAllowed, ServiceError
from negotiator.services.invites import (
    AGENT_CARD_PATH,
    base_url_for,
    invited_by,
    outside_mail_send,
    reply_to_of,
)
from negotiator.services.scheduling import rounds_are_held, task_enqueue_on_commit
from negotiator.services.seats import secret_hash
from tenders.models import (
    BidderCredential,
    BidderKind,
    BidderMessage,
    Tender,
    TenderBidder,
    TenderPlaybook,
    TenderStatus,
)
from tenders.services.context import RoundInputs, round_inputs
from tenders.services.lifecycle import (
    TENDER_ROUND,
    tender_audit,
    tender_create,
    tender_start,
)

log = logging.getLogger(__name__)

TOKEN_PREFIX = "nb_"  # an outside agent bidder's bearer token
INVITE_PREFIX = "nl_"  # an outside person's bid link
CREDENTIAL_DAYS = 30
MAX_MESSAGE_ID = 200


class BiddingClosed(Conflict):
    """The tender takes no bid now (not running, or its sealed bids are in)."""


class BidRefused(ServiceError):
    """The bid breaks a rule it can see (malformed, not enough of an improvement)."""


@dataclass(frozen=True)
class IssuedBidderCredential:
    """A bidder credential just made, with its secret: shown once, never again."""

    bidder: TenderBidder
    credential: BidderCredential
    secret: str
    link: str = ""  # a person's bid link
    agent_card: str = ""  # where an agent finds how to talk to us
    mailed_to: str = ""
    mail_failed: bool = False

    @property
    def label(self) -> str:
        return self.bidder.supplier.name

    @property
    def seat(self) -> str:
        return "person" if self.bidder.kind == BidderKind.PERSON else "remote_agent"


# --------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------


def bid_link(base_url: str, secret: str) -> str:
    return f"{base_url.rstrip('/')}{reverse('tenders:bid', args=[secret])}"


def bidder_credential_issue(
    *, bidder: TenderBidder, user=None, base_url: str
) -> IssuedBidderCredential:
    """A new credential for an outside bidder, audited on the tender's trail."""
    if not bidder.is_outside:
        raise ServiceError(f"{bidder.supplier.name} is a built-in bidder; it needs no credential.")
    person = bidder.kind == BidderKind.PERSON
    secret = (INVITE_PREFIX if person else TOKEN_PREFIX) + secrets.token_urlsafe(32)
    with transaction.atomic():
        tender = Tender.objects.select_for_update().get(pk=bidder.tender_id)
        credential = BidderCredential.objects.create(
            bidder=bidder,
            secret_hash=secret_hash(secret),
            prefix=secret[:10],
            expires_at=timezone.now() + timedelta(days=CREDENTIAL_DAYS),
        )
        tender_audit(
            tender,
            "tender.credential_issued",
            {
                "bidder": bidder.supplier.name,
                "credential": credential.pk,
                "prefix": credential.prefix,
                "expires_at": credential.expires_at.isoformat(),
            },
            user=user,
        )
    base = base_url_for(base_url)
    return IssuedBidderCredential(
        bidder=bidder,
        credential=credential,
        secret=secret,
        link=bid_link(base, secret) if person else "",
        agent_card="" if person else f"{base}{AGENT_CARD_PATH}",
    )


def bidder_credential_verify(*, secret: str, kind: str) -> BidderCredential:
    """The live credential of an outside bidder of ``kind`` for a secret. NotAllowed
    says nothing of which check failed (unknown, expired, revoked, other kind)."""
    prefix = INVITE_PREFIX if kind == BidderKind.PERSON else TOKEN_PREFIX
    if not isinstance(secret, str) or not 10 <= len(secret) <= 200 or not secret.startswith(prefix):
        raise NotAllowed("This credential is not valid.")
    credential = (
        BidderCredential.objects.select_related("bidder__supplier", "bidder__tender")
        .filter(secret_hash=secret_hash(secret))
        .first()
    )
    if credential is None or not credential.is_live or credential.bidder.kind != kind:
        raise NotAllowed("This credential is not valid.")
    return credential


def bidder_credential_use_record(*, credential: BidderCredential, address: str, what: str) -> None:
    """Every use is audited: which bidder, when, from which address, for what."""
    with transaction.atomic():
        tender = Tender.objects.select_for_update().get(pk=credential.bidder.tender_id)
        BidderCredential.objects.filter(pk=credential.pk).update(
            last_used_at=timezone.now(), last_used_from=address[:64], uses=F("uses") + 1
        )
        audit_entry = {"credential": credential.pk, "prefix": credential.prefix}
        audit_entry.update(bidder=credential.bidder.supplier.name, address=address[:64])
        tender_audit(tender, "tender.credential_used", {**audit_entry, "what": what[:80]})


def bidder_credential_revoke(*, credential: BidderCredential, user=None) -> BidderCredential:
    with transaction.atomic():
        tender = Tender.objects.select_for_update().get(pk=credential.bidder.tender_id)
        revoked = BidderCredential.objects.filter(pk=credential.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=user if getattr(user, "pk", None) else None
        )
        if revoked:
            tender_audit(
                tender,
                "tender.credential_revoked",
                {"bidder": credential.bidder.supplier.name, "prefix": credential.prefix},
                user=user,
            )
    credential.refresh_from_db()
    return credential


def bidder_credential_new(
    *, tender: Tender, bidder_id: int, user=None, base_url: str
) -> IssuedBidderCredential:
    """Another credential for one outside bidder (the first was lost or revoked);
    a person's new link is mailed to them too."""
    bidder = tender.bidders.select_related("supplier").filter(pk=bidder_id).first()
    if bidder is None or not bidder.is_outside:
        raise ServiceError("That is not an outside bidder of this tender.")
    if tender.is_final:
        raise ServiceError("This tender has ended; its bidders need no new credentials.")
    return _mailed(bidder_credential_issue(bidder=bidder, user=user, base_url=base_url), user)


# --------------------------------------------------------------------------
# Creating a tender with outside bidders
# --------------------------------------------------------------------------


def tender_create_with_outside(
    *,
    template: TenderPlaybook,
    base_url: str,
    title: str = "",
    outside: list[Mapping[str, Any]] = (),
    overrides: Mapping[str, Any] | None = None,
    seed: int | None = None,
    user=None,
) -> tuple[Tender, list[IssuedBidderCredential]]:
    """A tender with the template's bidders plus ``outside`` ones (supplier, kind,
    name, email), each outside bidder's first credential issued, started; then
    each invited person is mailed their bid link. All or nothing."""
    bidders = list(template.bidders) + [dict(b) for b in outside]
    with transaction.atomic():
        tender = tender_create(
            template=template,
            title=title,
            bidders=bidders,
            overrides=overrides,
            seed=seed,
            user=user,
            start=False,
        )
        rows = tender.bidders.select_related("supplier").exclude(kind=BidderKind.BUILTIN)
        issued = [bidder_credential_issue(bidder=b, user=user, base_url=base_url) for b in rows]
        tender = tender_start(tender=tender, user=user)
    return tender, [_mailed(i, user) for i in issued]


def _mailed(issued: IssuedBidderCredential, user) -> IssuedBidderCredential:
    """Mail a person's new bid link now (the secret is not kept for later). A failed
    mail is logged and shown to the operator, who has the link to pass on."""
    bidder = issued.bidder
    if bidder.kind != BidderKind.PERSON or not bidder.contact_email:
        return issued
    tender = bidder.tender
    expires = timezone.localtime(issued.credential.expires_at)
    lot = f" for {tender.quantity:,g} × {tender.item}" if tender.item else ""
    body = (
        f"Hello {bidder.contact_name or bidder.supplier.name},\n\n"
        f"{invited_by(user)} as {bidder.supplier.name} to bid in the tender "
        f"“{tender.title}”{lot}.\n\n"
        "Open this link to see the tender and place your bid, on a phone or a computer:\n\n"
        f"{issued.link}\n\n"
        "The link is personal: whoever has it can bid for you, so please do not forward it. "
        f"It works until {expires:%d %b %Y, %H:%M %Z}.\n\n"
        "If you did not expect this invitation, ignore this e-mail.\n"
    )
    failed = False
    try:
        outside_mail_send(
            f"Invitation to bid: {tender.title}",
            body,
            bidder.contact_email,
            reply_to=reply_to_of(user),
        )
    except Exception:  # SMTP down or refused: the operator still has the link
        log.exception("tender %s: mailing the bid link for %s failed", tender.pk, bidder.pk)
        failed = True
    with transaction.atomic():
        tender = Tender.objects.select_for_update().get(pk=tender.pk)
        tender_audit(
            tender,
            "tender.invite_mailed",
            {"bidder": bidder.supplier.name, "sent": not failed},
            user=user,
        )
    return replace(issued, mailed_to=bidder.contact_email, mail_failed=failed)


# --------------------------------------------------------------------------
# Bidding
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BidderPage:
    """Everything an outside bidder may see of its tender."""

    tender: Tender
    bidder: TenderBidder
    view: OutsideView
    fields: list  # the issues it quotes (engine issues: name, bounds or options)
    price_issue: str
    format: str
    feedback: str
    open: bool  # a bid is taken now
    closes_at: datetime | None  # when the open round (or the sealed bidding) is played
    pending: Mapping[str, Any] | None  # its bid waiting for the round, if any
    note: str  # what happened to its last bid


def round_closes_at(tender: Tender, window: float) -> datetime | None:
    if tender.status != TenderStatus.RUNNING or tender.round_opened_at is None:
        return None
    return tender.round_opened_at + timedelta(seconds=window)


def bidder_page(bidder: TenderBidder) -> BidderPage:
    tender = bidder.tender
    inputs = round_inputs(tender)
    rules = inputs.rules
    english = rules.format == "reverse_english"
    time_left = max(0.0, tender.close_at - tender.round * rules.round_seconds)
    view = outside_view(
        bidder.supplier.name,
        inputs.state.bids,
        rules,
        inputs.scoring,
        round_number=tender.round,
        time_left=time_left if english else 0.0,
        bidders=len(inputs.bidders),
    )
    pending = bidder.pending_terms if bidder.pending_round == tender.round else None
    return BidderPage(
        tender=tender,
        bidder=bidder,
        view=view,
        fields=list(inputs.scoring.space.issues),
        price_issue=inputs.config.price_issue,
        format=str(rules.format),
        feedback=str(rules.feedback),
        open=_open_for_bids(tender, rules.format),
        closes_at=round_closes_at(tender, inputs.config.outside_round_seconds),
        pending=pending,
        note=bidder.note,
    )


def _open_for_bids(tender: Tender, fmt: str) -> bool:
    if tender.status != TenderStatus.RUNNING:
        return False
    return fmt == "reverse_english" or tender.round == 0


@dataclass(frozen=True)
class BidResult:
    tender_id: int
    round: int
    status: str  # received
    replayed: bool = False

    def as_reply(self) -> dict[str, Any]:
        return {"tender": self.tender_id, "round": self.round, "status": self.status}


def outside_bid_submit(
    *,
    bidder: TenderBidder,
    terms: Mapping[str, Any],
    message_id: str,
    via: str,
    credential: BidderCredential | None = None,
) -> BidResult:
    """Take an outside bidder's bid for the open round. The same ``message_id``
    again returns the recorded answer and changes nothing. Raises BiddingClosed
    (nothing is taken now), BidRefused (why the bid cannot stand) or NotAllowed
    (``credential``, the one that sent it, was revoked or expired meanwhile: it is
    checked under the tender's lock, which a revocation takes too, so one that
    committed while the bid waited wins); then nothing changed. A new bid in the
    same round replaces its pending one."""
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID:
        raise BidRefused(f"a message id of 1 to {MAX_MESSAGE_ID} characters is required")
    if not isinstance(terms, Mapping):
        raise BidRefused("the bid's terms must be an object")
    with transaction.atomic():
        tender = Tender.objects.select_for_update().get(pk=bidder.tender_id)
        if credential is not None and not credential.is_live_now():
            raise NotAllowed("This credential is not valid.")
        recorded = BidderMessage.objects.filter(bidder=bidder, message_id=message_id).first()
        if recorded is not None:
            reply = recorded.reply
            return BidResult(reply["tender"], reply["round"], reply["status"], replayed=True)
        inputs = round_inputs(tender)
        if not _open_for_bids(tender, inputs.rules.format):
            raise BiddingClosed(
                f"The tender is {tender.get_status_display().lower()}: it takes no bid now."
                if tender.status != TenderStatus.RUNNING
                else "The sealed bids are in: the tender takes no more bids."
            )
        name = bidder.supplier.name
        clean = {k: terms[k] for k in terms}
        why = submission_refused(name, clean, inputs.state.bids, inputs.rules, inputs.scoring)
        if why:
            raise BidRefused(f"the bid cannot stand: {why}")
        now = timezone.now()
        TenderBidder.objects.filter(pk=bidder.pk).update(
            pending_terms=clean, pending_round=tender.round, pending_at=now
        )
        result = BidResult(tender.pk, tender.round, "received")
        # The tender's row lock serialises this bidder's messages: no duplicate here.
        BidderMessage.objects.create(bidder=bidder, message_id=message_id, reply=result.as_reply())
        tender_audit(
            tender,
            "tender.bid_received",
            {"bidder": name, "round": tender.round, "terms": clean, "via": via[:20]},
        )
        if _all_outside_bid(tender):
            _play_now(tender)
    return result


def _all_outside_bid(tender: Tender) -> bool:
    """Every outside bidder has a bid in for the open round: no one is left to wait for."""
    outside = tender.bidders.exclude(kind=BidderKind.BUILTIN)
    return not outside.exclude(pending_round=tender.round).exists()


def _play_now(tender: Tender) -> None:
    if not rounds_are_held():
        task_enqueue_on_commit(TENDER_ROUND, tender.pk, tender.round)


def submissions_of(inputs: RoundInputs) -> dict[str, Submission]:
    """The outside bidders' bids for the open round, each at its logical time: how
    far into the round's real window it arrived, scaled to the round's length."""
    tender, window = inputs.tender, inputs.config.outside_round_seconds
    out = {}
    for name, row in inputs.rows.items():
        if not row.is_outside or row.pending_round != tender.round or row.pending_terms is None:
            continue
        opened, at = tender.round_opened_at, row.pending_at
        elapsed = (at - opened).total_seconds() if opened and at else 0.0
        offset = min(max(elapsed / window, 0.0), 1.0) * inputs.rules.round_seconds
        out[name] = Submission(dict(row.pending_terms), offset)
    return out


def submissions_settle(
    inputs: RoundInputs,
    submitted: Mapping[str, Submission],
    stood: set[str],
    refused: Mapping[str, str],
) -> None:
    """After the round: each outside bidder that bid learns what became of its bid
    (a note on its page), and its pending bid is cleared."""
    number = inputs.state.round + 1  # the round just played, counted from 1
    for name in submitted:
        row = inputs.rows[name]
        why = refused.get(name, "it did not arrive in time")
        row.note = (
            f"Your bid in round {number} stands."
            if name in stood
            else f"Your bid in round {number} was not taken: {why}."
        )[:300]
        row.pending_terms = row.pending_round = row.pending_at = None
        row.save(update_fields=["note", "pending_terms", "pending_round", "pending_at"])
