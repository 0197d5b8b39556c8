"""Tenders: the supplier registry, a playbook's tender settings, and each tender
with its bidders and bids. Rows only; every write that spans rows lives in
tenders.services."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from negotiator.models import SecretCredential


class Supplier(models.Model):
    """The supplier registry: who stands behind a bidder. Two bidders sharing an
    owner or a contact are flagged by the shared-owner screen."""

    name = models.CharField(max_length=120, unique=True)
    owner = models.CharField(max_length=200, blank=True, help_text="Ultimate beneficial owner.")
    contact = models.CharField(
        max_length=200, blank=True, help_text="E-mail, phone or address used in bids."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenderPlaybook(models.Model):
    """A playbook of pattern auction as a tender template: the format and its
    settings (validated by tenders.services.setup.tender_config_parse), the
    default bidders, and screen thresholds."""

    playbook = models.OneToOneField(
        "negotiator.Playbook", on_delete=models.CASCADE, related_name="tender_settings"
    )
    config = models.JSONField(default=dict)
    bidders = models.JSONField(
        default=list,
        help_text="Default bidders: supplier, strategy, private cost, non-price terms.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Tender settings of {self.playbook}"


class TenderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Bidding"
    PENDING_APPROVAL = "pending_approval", "Award waits for a person"
    ESCALATED = "escalated", "Escalated"
    AWARDED = "awarded", "Awarded"
    REJECTED = "rejected", "Award rejected"
    NO_AWARD = "no_award", "No award"
    CANCELLED = "cancelled", "Cancelled"


FINAL_TENDER_STATUSES = frozenset(
    {TenderStatus.AWARDED, TenderStatus.REJECTED, TenderStatus.NO_AWARD, TenderStatus.CANCELLED}
)


class Tender(models.Model):
    playbook = models.ForeignKey(
        "negotiator.Playbook", on_delete=models.PROTECT, related_name="tenders"
    )
    playbook_version = models.ForeignKey(
        "negotiator.PlaybookVersion", on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    item = models.CharField(max_length=120, blank=True)
    quantity = models.FloatField(default=1.0)
    config = models.JSONField(help_text="Format, reserve, decrement, soft close, screens.")
    status = models.CharField(
        max_length=20, choices=TenderStatus.choices, default=TenderStatus.DRAFT
    )
    seed = models.BigIntegerField(default=0)
    pace_seconds = models.FloatField(default=0.0, help_text="Real seconds between rounds.")
    round = models.PositiveIntegerField(default=0)
    close_at = models.FloatField(default=0.0, help_text="Logical seconds since opening.")
    extensions = models.PositiveIntegerField(default=0)
    award_supplier = models.CharField(max_length=120, blank=True)
    award_terms = models.JSONField(null=True, blank=True)
    award_score = models.FloatField(null=True, blank=True)
    second_score = models.FloatField(null=True, blank=True)
    award_reason = models.TextField(blank=True)
    screening = models.JSONField(default=dict, blank=True)
    suspicion = models.FloatField(null=True, blank=True)
    flagged = models.BooleanField(default=False)
    escalation_minutes = models.FloatField(
        default=0.0, help_text="Person minutes the award took (ROI)."
    )
    round_opened_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current round began taking outside bids."
    )
    award_negotiation = models.OneToOneField(
        "negotiator.Negotiation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tender_award",
    )
    final_negotiation = models.ForeignKey(
        "negotiator.Negotiation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The optional bilateral negotiation with the winner.",
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The list and home page: team_id IN (my teams), by status, newest first.
            models.Index(fields=["team", "status", "-created_at"], name="tender_team_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_TENDER_STATUSES

    @property
    def price_issue(self) -> str:
        """The term bids are priced in (the tender settings' ``price_issue``)."""
        return str((self.config or {}).get("price_issue") or "price")

    @property
    def award_price(self) -> float | None:
        """The awarded price, in the tender's price issue."""
        return (self.award_terms or {}).get(self.price_issue)


class BidderKind(models.TextChoices):
    BUILTIN = "builtin", "Built-in strategy"
    PERSON = "person", "Outside person (portal)"
    REMOTE_AGENT = "remote_agent", "Outside agent (A2A)"


class TenderBidder(models.Model):
    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="bidders")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=BidderKind.choices, default=BidderKind.BUILTIN)
    strategy = models.CharField(max_length=40)
    private_cost = models.FloatField(
        null=True, blank=True, help_text="Private: the bidder's own cost (unknown for outsiders)."
    )
    terms = models.JSONField(default=dict, help_text="Non-price terms it quotes.")
    fixed_price = models.FloatField(null=True, blank=True, help_text="A scripted bid.")
    order = models.PositiveIntegerField(default=0)
    # An outside bidder: who was invited, and its bid for the open round until the
    # round is played (then it stands in TenderBid or is refused with a note).
    contact_name = models.CharField(max_length=120, blank=True)
    contact_email = models.EmailField(blank=True)
    pending_terms = models.JSONField(null=True, blank=True)
    pending_round = models.PositiveIntegerField(null=True, blank=True)
    pending_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(
        max_length=300, blank=True, help_text="What happened to its last outside bid."
    )

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tender", "supplier"], name="tender_bidder_once")
        ]

    def __str__(self) -> str:
        return self.supplier.name

    @property
    def is_outside(self) -> bool:
        return self.kind != BidderKind.BUILTIN


class TenderBid(models.Model):
    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="bids")
    bidder = models.ForeignKey(TenderBidder, on_delete=models.CASCADE, related_name="bids")
    round = models.PositiveIntegerField()
    at = models.FloatField(help_text="Logical seconds since the tender opened.")
    terms = models.JSONField()
    price = models.FloatField()
    score = models.FloatField()
    accepted = models.BooleanField()
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tender", "at", "id"]

    def __str__(self) -> str:
        return f"{self.bidder} {self.price:,.2f} r{self.round}"


class BidderCredential(SecretCredential):
    """An outside bidder's credential: scoped to one bidder of one tender, stored
    only as a hash (the secret is shown once), expiring and revocable."""

    bidder = models.ForeignKey(TenderBidder, on_delete=models.CASCADE, related_name="credentials")

    class Meta(SecretCredential.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.prefix}… for {self.bidder}"


class BidderMessage(models.Model):
    """Each bid an outside bidder sent, by its message id: a replay gets the
    recorded answer and changes nothing."""

    bidder = models.ForeignKey(TenderBidder, on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True)
    reply = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bidder", "message_id"], name="bidder_message_once")
        ]

    def __str__(self) -> str:
        return f"bid message {self.message_id} from {self.bidder}"
