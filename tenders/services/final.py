"""The optional final bilateral negotiation with a tender's winner, on today's
bargaining machinery: a negotiation of the tender's playbook whose price can
only improve on the award (a block policy scoped to it caps the price). A winner
who bid from outside (a person, an agent) keeps its own seat: the bidder role is
an outside seat of the same kind, with a credential of its own (a person's invite
link is mailed to the bidder's contact)."""

from __future__ import annotations

from django.db import transaction

from negotiator.models import Negotiation, Policy, PolicyCategory, PolicyKindChoice, PolicyScope
from negotiator.services.errors import ServiceError, TransitionError
from negotiator.services.invites import IssuedCredential, seat_credential_new
from negotiator.services.lifecycle import negotiation_create, negotiation_start
from negotiator.services.policies import policy_save
from tenders.models import Tender, TenderStatus
from tenders.services.lifecycle import tender_audit
from tenders.services.setup import tender_config_parse


def tender_final_negotiation_start(
    *, tender: Tender, user=None, base_url: str = ""
) -> tuple[Negotiation, list[IssuedCredential]]:
    """Start the bilateral negotiation with the winner of an awarded tender; the
    winner's new credential when it bid from outside (shown once)."""
    with transaction.atomic():
        tender = Tender.objects.select_for_update().get(pk=tender.pk)
        if tender.status != TenderStatus.AWARDED or not tender.award_terms:
            raise TransitionError("Only an awarded tender can go to a final negotiation.")
        if tender.final_negotiation_id:
            raise TransitionError("This tender already has its final negotiation.")
        config = tender_config_parse(tender.config)
        price = tender.award_terms.get(config.price_issue)
        if price is None:
            raise ServiceError("The award has no price to start from.")
        winner = tender.bidders.filter(supplier__name=tender.award_supplier).first()
        outside = winner is not None and winner.is_outside
        negotiation = negotiation_create(
            playbook=tender.playbook,
            user=user,
            title=f"Final negotiation with {tender.award_supplier} (tender #{tender.pk})",
            seed=tender.seed,
            start=False,
            seats={config.bidder_role: winner.kind} if outside else None,
        )
        if outside:
            _seat_for(negotiation, config.bidder_role, winner)
        _award_cap(negotiation, tender, config.price_issue, float(price), user)
        negotiation_start(negotiation=negotiation, user=user)
        tender.final_negotiation = negotiation
        tender.save(update_fields=["final_negotiation", "updated_at"])
        tender_audit(
            tender,
            "tender.final_negotiation_started",
            {"negotiation": negotiation.pk, "winner": tender.award_supplier, "cap": price},
            user=user,
        )
        if not outside:
            return negotiation, []
        issued = seat_credential_new(
            negotiation=negotiation, role=config.bidder_role, user=user, base_url=base_url
        )
    return negotiation, [issued]


def _seat_for(negotiation: Negotiation, role: str, winner) -> None:
    """The outside winner's seat: invited under the bidder's contact."""
    seat = negotiation.participants.get(role=role)
    seat.invitee_name = (winner.contact_name or winner.supplier.name)[:120]
    seat.invitee_email = winner.contact_email
    seat.save(update_fields=["invitee_name", "invitee_email"])


def _award_cap(negotiation: Negotiation, tender: Tender, issue: str, price: float, user) -> None:
    """A block policy scoped to the negotiation: the price stays at or below the award."""
    policy_save(
        policy=Policy(
            name="No worse than the tender award",
            description=f"The final price stays at or below the award of tender #{tender.pk}.",
            category=PolicyCategory.FINANCIAL,
            scope=PolicyScope.NEGOTIATION,
            negotiation=negotiation,
            kind=PolicyKindChoice.CAP,
            parameters={"issue": issue, "max": price},
        ),
        user=user,
    )
