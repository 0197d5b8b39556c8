"""Rows. Methods here change their own row only; writes that span rows live in services."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """One row a worker writes each time it runs the heartbeat task.

    /healthz reads the newest to tell whether any worker is alive; the row
    proves the whole path web -> broker -> worker -> database works.
    """

    token = models.CharField(max_length=64, blank=True)
    hostname = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.created_at:%Y-%m-%d %H:%M:%S}"


# --------------------------------------------------------------------------
# Playbooks: what may be negotiated
# --------------------------------------------------------------------------


class Pattern(models.TextChoices):
    CONCESSION = "concession", "Concession bargaining"
    BUNDLE = "bundle", "Multi-issue bundle"
    COALITION = "coalition", "Coalition"
    CONSTRAINT = "constraint", "Constraint satisfaction"
    AUCTION = "auction", "Auction / competitive bidding"


class SeatKind(models.TextChoices):
    """Who makes a party's moves."""

    BUILTIN = "builtin", "Built-in strategy"
    REMOTE_AGENT = "remote_agent", "Outside agent (A2A)"
    PERSON = "person", "Outside person (portal)"


class TurnTimeout(models.TextChoices):
    """What happens when an outside seat lets its turn deadline pass."""

    ESCALATE = "escalate", "Escalate to a person"
    END = "end", "End as timed out"


class LimitReached(models.TextChoices):
    """What happens when a negotiation uses its last round or reaches its deadline."""

    END = "end", "End (failed / timed out)"
    ESCALATE = "escalate", "Escalate to a person (who may accept, counter or extend)"


class Playbook(models.Model):
    """The editable head of a playbook. Each saved change publishes a PlaybookVersion."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    pattern = models.CharField(max_length=20, choices=Pattern.choices, default=Pattern.CONCESSION)
    max_rounds = models.PositiveIntegerField(
        default=40, validators=[MinValueValidator(1), MaxValueValidator(10_000)]
    )
    deadline_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(60 * 24 * 30)],
        help_text="Wall-clock time a negotiation may run before it times out.",
    )
    offer_ttl_rounds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text="Rounds an offer stays open; empty means until replaced.",
    )
    stall_threshold = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Minimum improvement of the best joint utility that counts as progress.",
    )
    stall_window = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text="Rounds without progress before the negotiation stalls.",
    )
    pace_seconds = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(settings.NEGOTIATOR_MAX_COUNTDOWN)],
        help_text="Pause between rounds so people can watch live; 0 runs at full speed.",
    )
    value_expression = models.CharField(
        max_length=500,
        blank=True,
        help_text="Deal value in currency: an issue name (e.g. price) or a CEL expression "
        "over terms (e.g. terms.price * 12.0).",
    )
    risk_expression = models.CharField(
        max_length=500,
        blank=True,
        help_text="Deal risk in [0, 1]: an issue name or a CEL expression over terms.",
    )
    currency = models.CharField(max_length=8, default="USD")
    turn_deadline_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(60 * 24 * 30)],
        help_text="How long an outside seat (agent or person) has for each move; a reminder "
        "goes out at three quarters of it.",
    )
    on_turn_timeout = models.CharField(
        max_length=10,
        choices=TurnTimeout.choices,
        default=TurnTimeout.ESCALATE,
        help_text="When an outside seat misses its turn deadline.",
    )
    on_limit = models.CharField(
        max_length=10,
        choices=LimitReached.choices,
        default=LimitReached.END,
        help_text="When the rounds or the deadline run out without an agreement.",
    )
    team = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        # Deleting a team hides its negotiations from everyone but auditors
        # (fail closed) rather than deleting history.
        on_delete=models.SET_NULL,
        related_name="playbooks",
        help_text="The group that owns this playbook: its members see and act on its "
        "negotiations. Without a team only auditors and superusers see them.",
    )
    current_version = models.ForeignKey(
        "PlaybookVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    plan_model = models.JSONField(
        default=dict,
        blank=True,
        help_text="Structured issues (allocations, time windows), hard constraints, "
        "assumptions, plan lines and coalition settings (README: Coalitions and "
        "solver-checked plans). Empty for playbooks without a plan.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IssueKind(models.TextChoices):
    NUMERIC = "numeric", "Numeric"
    CATEGORICAL = "categorical", "Categorical"
    ORDINAL = "ordinal", "Ordinal"


class PlaybookIssue(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="issues")
    name = models.SlugField(max_length=60, help_text="Identifier used in offers and rules.")
    label = models.CharField(max_length=120, blank=True)
    kind = models.CharField(max_length=12, choices=IssueKind.choices, default=IssueKind.NUMERIC)
    unit = models.CharField(max_length=20, blank=True)
    minimum = models.FloatField(null=True, blank=True)
    maximum = models.FloatField(null=True, blank=True)
    step = models.FloatField(null=True, blank=True)
    integer = models.BooleanField(default=True)
    options = models.JSONField(
        default=list, blank=True, help_text='Categorical/ordinal options, e.g. ["gold", "silver"]'
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "name"], name="playbook_issue_unique_name")
        ]

    def __str__(self) -> str:
        return self.label or self.name


class FixedTerm(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="fixed_terms")
    name = models.SlugField(max_length=60)
    value = models.TextField()
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "name"], name="fixed_term_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


def default_seats() -> list[str]:
    return [SeatKind.BUILTIN]


class Role(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="roles")
    name = models.SlugField(max_length=60)
    label = models.CharField(max_length=120, blank=True)
    strategy = models.CharField(max_length=40, default="default")
    strategy_params = models.JSONField(default=dict, blank=True)
    profile = models.JSONField(
        default=dict,
        help_text="Private preference profile (weights, value functions, reservation).",
    )
    owner_group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="Members may see this role's private profile.",
    )
    seats = models.JSONField(
        default=default_seats,
        blank=True,
        help_text="Seat kinds a negotiation may give this role: builtin (our strategy), "
        "remote_agent (an outside agent over A2A), person (an outside person in the portal).",
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "name"], name="role_unique_name")
        ]

    def __str__(self) -> str:
        return self.label or self.name


@pgtrigger.register(
    pgtrigger.Protect(name="playbook_version_immutable", operation=pgtrigger.Update),
)
class PlaybookVersion(models.Model):
    """Immutable snapshot of a playbook: what a negotiation runs under."""

    playbook = models.ForeignKey(Playbook, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    spec = models.JSONField()
    digest = models.CharField(max_length=64)
    note = models.CharField(
        max_length=200, blank=True, help_text="Why this version was made (the change note)."
    )
    # A draft is saved for testing and is never in force: only the playbook's
    # current_version (never a draft) is what new negotiations run under.
    is_draft = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["playbook", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "number"], name="playbook_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.playbook.name} v{self.number}"


# --------------------------------------------------------------------------
# Policies: the rules every offer must pass
# --------------------------------------------------------------------------


class PolicyCategory(models.TextChoices):
    LEGAL = "legal", "Legal"
    COMPLIANCE = "compliance", "Compliance"
    SECURITY = "security", "Security"
    BRAND = "brand", "Brand"
    OPERATIONAL = "operational", "Operational"
    FINANCIAL = "financial", "Financial"
    PRIVACY = "privacy", "Privacy"


class PolicyScope(models.TextChoices):
    ALL = "all", "Every playbook"
    PLAYBOOK = "playbook", "One playbook"
    ROLE = "role", "One role in a playbook"
    NEGOTIATION = "negotiation", "One negotiation"


class PolicyKindChoice(models.TextChoices):
    CAP = "cap", "Cap (maximum) on a numeric issue"
    FLOOR = "floor", "Floor (minimum) on a numeric issue"
    RANGE = "range", "Range on a numeric issue"
    ALLOWED_VALUES = "allowed_values", "Allowed values of a categorical issue"
    MIN_MARGIN = "min_margin", "Minimum margin over private cost"
    SLA = "sla", "SLA (delivery or lead time within N)"
    REQUIRED_FIXED_TERM = "required_fixed_term", "Required fixed term"
    DISCLOSURE = "disclosure", "Disclosure (no private values revealed)"
    APPROVAL_THRESHOLD = "approval_threshold", "Approval threshold"
    EXPRESSION = "expression", "CEL expression"


class Severity(models.TextChoices):
    BLOCK = "block", "Block"
    ESCALATE = "escalate", "Escalate"
    WARN = "warn", "Warn"


class Policy(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=20, choices=PolicyCategory.choices)
    scope = models.CharField(max_length=20, choices=PolicyScope.choices, default=PolicyScope.ALL)
    playbook = models.ForeignKey(
        Playbook, null=True, blank=True, on_delete=models.CASCADE, related_name="policies"
    )
    role_name = models.SlugField(max_length=60, blank=True)
    negotiation = models.ForeignKey(
        "Negotiation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="own_policies",
        help_text="Set for constraints an approver added to one negotiation.",
    )
    kind = models.CharField(max_length=24, choices=PolicyKindChoice.choices)
    parameters = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.BLOCK)
    active = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "PolicyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(scope="all") | Q(playbook__isnull=False) | Q(negotiation__isnull=False),
                name="policy_scope_has_target",
            )
        ]

    def __str__(self) -> str:
        return self.name


@pgtrigger.register(
    pgtrigger.Protect(name="policy_version_immutable", operation=pgtrigger.Update),
)
class PolicyVersion(models.Model):
    """Immutable snapshot of a policy; checks point at the version they evaluated."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=20, choices=PolicyCategory.choices)
    scope = models.CharField(max_length=20, choices=PolicyScope.choices)
    playbook = models.ForeignKey(
        Playbook, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    role_name = models.CharField(max_length=60, blank=True)
    kind = models.CharField(max_length=24, choices=PolicyKindChoice.choices)
    parameters = models.JSONField(default=dict)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    active = models.BooleanField()
    note = models.CharField(
        max_length=200, blank=True, help_text="Why this version was made (the change note)."
    )
    # A draft is saved for testing and is never in force: checks use the policy's
    # current_version, which is never a draft.
    is_draft = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="policy_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.number}"


# --------------------------------------------------------------------------
# Negotiations
# --------------------------------------------------------------------------


class NegotiationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    ESCALATED = "escalated", "Escalated"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = frozenset(
    {
        NegotiationStatus.APPROVED,
        NegotiationStatus.REJECTED,
        NegotiationStatus.FAILED,
        NegotiationStatus.TIMED_OUT,
        NegotiationStatus.CANCELLED,
    }
)


class Negotiation(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.PROTECT, related_name="negotiations")
    playbook_version = models.ForeignKey(
        PlaybookVersion, on_delete=models.PROTECT, related_name="negotiations"
    )
    # The playbook's team when the negotiation was created, kept here so that
    # who-sees-what is one indexed filter and moving a playbook to another team
    # does not move its past negotiations (negotiator/permissions.py).
    team = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # negotiation_team_idx leads with it
    )
    title = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=20, choices=NegotiationStatus.choices, default=NegotiationStatus.DRAFT
    )
    current_round = models.PositiveIntegerField(default=0)
    max_rounds = models.PositiveIntegerField()
    pace_seconds = models.FloatField(default=0.0)
    deadline = models.DateTimeField(null=True, blank=True)
    seed = models.BigIntegerField(default=0)
    engine_state = models.JSONField(default=dict, blank=True)
    outcome_reason = models.TextField(blank=True)
    agreed_terms = models.JSONField(null=True, blank=True)
    agreed_offer = models.ForeignKey(
        "Offer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deal_value = models.FloatField(null=True, blank=True)
    deal_risk = models.FloatField(null=True, blank=True)
    plan = models.JSONField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="started_negotiations",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_progress_at = models.DateTimeField(null=True, blank=True)
    # Policies two people agreed to waive in this negotiation: {policy id: override
    # id} (PolicyOverride). Kept on the row because a round's claim reads the row
    # anyway, so waivers cost the hot path no query.
    waived_policies = models.JSONField(default=dict, blank=True)
    # An outside seat's turn: whose move the negotiation waits for, since when, until when.
    waiting_for = models.CharField(max_length=60, blank=True)
    turn_started_at = models.DateTimeField(null=True, blank=True)
    turn_due_at = models.DateTimeField(null=True, blank=True)
    turn_reminded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The list page: filter by status, newest first. The sweeper finds
            # running negotiations through it too. No index covers the columns
            # every round updates (current_round, last_progress_at, engine_state,
            # updated_at), so PostgreSQL can update the row in place (a HOT
            # update) instead of adding an entry to every index each round.
            models.Index(fields=["status", "-created_at"], name="negotiation_list_idx"),
            # The same list and the home page for a member of some teams:
            # team_id IN (their groups), by status, newest first.
            models.Index(fields=["team", "status", "-created_at"], name="negotiation_team_idx"),
        ]

    def __str__(self) -> str:
        return self.title or f"Negotiation #{self.pk}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class Participant(models.Model):
    negotiation = models.ForeignKey(
        Negotiation, on_delete=models.CASCADE, related_name="participants"
    )
    role = models.CharField(max_length=60)
    label = models.CharField(max_length=120, blank=True)
    strategy = models.CharField(max_length=40)
    strategy_params = models.JSONField(default=dict, blank=True)
    profile = models.JSONField(help_text="Private: a copy of the role's preference profile.")
    owner_group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL)
    seat = models.CharField(max_length=20, choices=SeatKind.choices, default=SeatKind.BUILTIN)
    # An outside person's seat: whom its invite link and turn notices are mailed
    # to (the link's secret is never stored, so the mail goes out when it is made).
    invitee_name = models.CharField(max_length=120, blank=True)
    invitee_email = models.EmailField(blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["negotiation", "role"], name="participant_unique_role")
        ]

    def __str__(self) -> str:
        return self.label or self.role

    @property
    def is_outside(self) -> bool:
        return self.seat != SeatKind.BUILTIN


class Offer(models.Model):
    negotiation = models.ForeignKey(Negotiation, on_delete=models.CASCADE, related_name="offers")
    round = models.PositiveIntegerField()
    sender = models.CharField(max_length=60)
    performative = models.CharField(max_length=12)
    terms = models.JSONField(default=dict)
    fixed_terms_hash = models.CharField(max_length=64)
    expires_at_round = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    assumptions = models.JSONField(default=list, blank=True)
    dependencies = models.JSONField(default=list, blank=True)
    in_reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    version = models.PositiveIntegerField(default=1)
    rationale = models.TextField(blank=True)
    engine_id = models.CharField(max_length=120)
    utilities = models.JSONField(
        default=dict, help_text="Private: role -> utility of this offer for that role."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["negotiation", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["negotiation", "round", "sender"], name="offer_one_per_round_and_sender"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sender} r{self.round} {self.performative}"


class CheckStage(models.TextChoices):
    SEND = "send", "Before sending"
    ACCEPT = "accept", "Before accepting"


class PolicyCheck(models.Model):
    """One evaluation of one policy version against one offer (or a blocked attempt)."""

    negotiation = models.ForeignKey(Negotiation, on_delete=models.CASCADE, related_name="checks")
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.CASCADE, related_name="checks"
    )
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    round = models.PositiveIntegerField()
    sender = models.CharField(max_length=60)
    stage = models.CharField(max_length=10, choices=CheckStage.choices)
    terms = models.JSONField(default=dict)
    passed = models.BooleanField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    message = models.TextField()
    evidence = models.JSONField(default=dict)
    # A failed check that an approved override let through: still failed (the
    # approval gate sends such a deal to a person), never shown as passed.
    waived_by = models.ForeignKey(
        "PolicyOverride", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{'pass' if self.passed else self.severity}: {self.message}"


class OverrideStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a second person"
    APPROVED = "approved", "Approved: the policy is waived in this negotiation"
    REJECTED = "rejected", "Rejected"


class PolicyOverride(models.Model):
    """A person's request to waive one failed policy in one negotiation. It takes
    effect only once someone else approves it (four eyes); then that policy's
    checks in this negotiation are recorded as waived."""

    negotiation = models.ForeignKey(
        Negotiation, on_delete=models.CASCADE, related_name="policy_overrides"
    )
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="overrides")
    justification = models.TextField()
    status = models.CharField(
        max_length=10, choices=OverrideStatus.choices, default=OverrideStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["negotiation", "policy"],
                condition=Q(status__in=["pending", "approved"]),
                name="policy_override_one_live",
            ),
            models.CheckConstraint(
                condition=~Q(decided_by=models.F("requested_by")),
                name="policy_override_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"Override of {self.policy} in {self.negotiation} ({self.status})"


class AuditEvent(models.Model):
    """Append-only, hash-chained record. One chain per negotiation; a global chain
    (negotiation NULL) records configuration changes that are not tied to one.

    On PostgreSQL, plain triggers (migration 0004_audit_tamper_evidence, not
    pgtrigger, whose triggers any session can switch off with pgtrigger.ignore)
    refuse UPDATE, DELETE and TRUNCATE; the application's role should also lack
    those privileges (README, "Two database roles")."""

    chain = models.CharField(max_length=40, help_text="negotiation:<id> or global")
    negotiation = models.ForeignKey(
        Negotiation, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    seq = models.PositiveIntegerField()
    # The hash recipe (negotiator/audit_offline.py): rows written before version
    # 2 keep 1 and verify as they were hashed.
    hash_version = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=60)
    actor = models.CharField(max_length=150, help_text="user:<name>, agent:<role> or system")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # Never cascade into the append-only table; `actor` keeps the name.
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField()
    # Canonical JSON text, stored verbatim: the hash covers these exact bytes,
    # which a JSON column could re-encode (key order, number spelling).
    payload_json = models.TextField(default="{}")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # HMAC of the hash under a key outside the database (negotiator/audit_key.py);
    # empty when no key was configured.
    mac = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_unique_seq")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"

    @property
    def payload(self) -> dict:
        import json

        return json.loads(self.payload_json)


class CredentialKind(models.TextChoices):
    TOKEN = "token", "Bearer token (an outside agent)"
    INVITE = "invite", "Invite link (an outside person)"


class SecretCredential(models.Model):
    """What every outside credential keeps (a seat's here, a tender bidder's in
    tenders): the secret only as a hash (shown once), a prefix to tell it apart,
    an expiry, a revocation, and its uses."""

    # sha256 of the secret; the secret itself is never stored
    secret_hash = models.CharField(max_length=64, unique=True)
    # the secret's first characters, to tell credentials apart in lists
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_from = models.CharField(max_length=64, blank=True)
    uses = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    def is_live_now(self) -> bool:
        """``is_live`` read again from the database: under a lock that a revocation
        also takes, after the credential was verified, so a revocation that
        committed meanwhile counts."""
        return (
            type(self)
            .objects.filter(pk=self.pk, revoked_at__isnull=True, expires_at__gt=timezone.now())
            .exists()
        )


class SeatCredential(SecretCredential):
    """An outside seat's credential: scoped to one seat of one negotiation, stored
    only as a hash (the secret is shown once), expiring and revocable."""

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="credentials"
    )
    kind = models.CharField(max_length=10, choices=CredentialKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(SecretCredential.Meta):
        pass

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.prefix}… for {self.participant}"


class SeatMessage(models.Model):
    """Each message an outside seat sent, by its own message id: a replayed message
    gets the recorded answer and changes nothing."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True)
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # what the seat was answered (kept so a replay gets the same answer)
    reply = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "message_id"], name="seat_message_unique_id"
            )
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} from {self.participant}"


class SeatAgent(models.Model):
    """An outside agent seat that we call (over A2A) at its turn, instead of waiting
    for it to call us: the supplier's agent URL and the ids its agent gave our
    conversation, so each turn continues the same remote task."""

    participant = models.OneToOneField(Participant, on_delete=models.CASCADE, related_name="agent")
    url = models.URLField(
        max_length=500,
        help_text="The agent's base URL; its card is read from /.well-known/agent-card.json.",
    )
    remote_task_id = models.CharField(max_length=200, blank=True)
    remote_context_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.participant} at {self.url}"
