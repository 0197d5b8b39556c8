"""Human approval gates: routes (who must approve what), requests (the open gate),
decisions (each person's verdict) and delegations (who decides for whom, when).

Rows only; every write that spans rows lives in approvals.services.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q


class ConditionKind(models.TextChoices):
    DEAL_VALUE_ABOVE = "deal_value_above", "Deal value above a threshold"
    RISK_ABOVE = "risk_above", "Deal risk above a threshold"
    ESCALATE_POLICY = "escalate_policy", "Any escalate-severity policy failed"
    PLAYBOOK = "playbook", "Agreement under a given playbook"
    APPROVAL_THRESHOLD = "approval_threshold", "An approval-threshold policy failed"
    EXPRESSION = "expression", "CEL expression over the agreed terms"
    ALWAYS = "always", "Every agreement"


class RouteDecision(models.TextChoices):
    """What a matching route does with a deal. Only an explicit route approves
    automatically, and only a deal that passed every policy (fail closed)."""

    PERSON = "person", "A person decides"
    AUTO = "auto", "Approve automatically (only deals that pass every policy)"


class ExpiryAction(models.TextChoices):
    ESCALATE = "escalate", "Escalate to a second group (with a new due time)"
    REJECT = "reject", "Reject the deal"
    EXPIRE = "expire", "Mark expired (the negotiation times out)"


class ApprovalRoute(models.Model):
    """When an agreement matches the condition, the approver group must approve it
    (or, for a route that approves automatically, a deal that passed every policy
    is approved). The default route takes the deals that need a person and match
    no other route."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    condition_kind = models.CharField(max_length=24, choices=ConditionKind.choices)
    decision = models.CharField(
        max_length=8,
        choices=RouteDecision.choices,
        default=RouteDecision.PERSON,
        help_text="Approve automatically only deals that passed every policy; any failed "
        "check sends the deal to a person.",
    )
    is_default = models.BooleanField(
        default=False,
        help_text="The default route: a deal that needs a person and matches no other route "
        "goes here (at most one; it always sends the deal to a person).",
    )
    threshold = models.FloatField(
        null=True,
        blank=True,
        help_text="For 'deal value above' (currency) and 'risk above' (0 to 1).",
    )
    playbook = models.ForeignKey(
        "negotiator.Playbook",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="approval_routes",
        help_text="For 'agreement under a given playbook'.",
    )
    expression = models.TextField(
        blank=True,
        help_text="For 'CEL expression': true means a person must approve, e.g. "
        "terms.price > 100000.0 || deal.risk > 0.5. Variables: terms, fixed, deal.",
    )
    approvers_required = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="Distinct people who must approve; 2 is the four-eyes rule.",
    )
    approver_group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who decides (required unless the route approves automatically).",
    )
    sla_hours = models.PositiveIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 90)]
    )
    on_expiry = models.CharField(
        max_length=10, choices=ExpiryAction.choices, default=ExpiryAction.EXPIRE
    )
    escalation_group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who decides once the SLA has passed (for 'escalate').",
    )
    approvers_see_limits = models.BooleanField(
        default=False,
        help_text="Show the parties' private limits (reservation, budget cap, …) to this "
        "route's approvers on the request page. Off: only each party's owners, Auditors "
        "and admins see them, and the page says so.",
    )
    order = models.PositiveIntegerField(
        default=100, help_text="When several routes match, the lowest order leads the request."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="approval_route_one_default",
            ),
            models.CheckConstraint(
                condition=Q(decision="auto") | Q(approver_group__isnull=False),
                name="approval_route_person_has_group",
            ),
            models.CheckConstraint(
                condition=Q(is_default=False) | Q(decision="person"),
                name="approval_route_default_is_a_person",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def condition_text(self) -> str:
        """The condition in one line, for people."""
        match self.condition_kind:
            case ConditionKind.DEAL_VALUE_ABOVE:
                return f"deal value > {self.threshold:,g}" if self.threshold is not None else ""
            case ConditionKind.RISK_ABOVE:
                return f"deal risk > {self.threshold:g}" if self.threshold is not None else ""
            case ConditionKind.PLAYBOOK:
                return f"playbook is {self.playbook}" if self.playbook_id else ""
            case ConditionKind.EXPRESSION:
                return self.expression
            case ConditionKind.ALWAYS:
                return "every agreement"
        return self.get_condition_kind_display()


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    EXPIRED = "expired", "Expired"


class ApprovalRequest(models.Model):
    """One open (or decided) approval gate for one agreement of a negotiation."""

    negotiation = models.ForeignKey(
        "negotiator.Negotiation", on_delete=models.PROTECT, related_name="approval_requests"
    )
    offer = models.ForeignKey(
        "negotiator.Offer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The agreed offer.",
    )
    terms = models.JSONField(default=dict, help_text="The agreed terms when the request opened.")
    deal_value = models.FloatField(null=True, blank=True)
    deal_risk = models.FloatField(null=True, blank=True)
    reasons = models.JSONField(
        default=dict,
        help_text="Why it opened: the matching routes with the values that matched, "
        "and the policy results.",
    )
    route = models.ForeignKey(
        ApprovalRoute, on_delete=models.PROTECT, related_name="requests", help_text="Leading route."
    )
    routes = models.ManyToManyField(ApprovalRoute, related_name="+", blank=True)
    status = models.CharField(
        max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    approvals_required = models.PositiveSmallIntegerField(default=1)
    approver_group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="+")
    escalated = models.BooleanField(default=False)
    due_at = models.DateTimeField()
    window_started_at = models.DateTimeField(
        help_text="Start of the current SLA window (opened or escalated)."
    )
    reminded_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The expiry/reminder job: status='pending' AND due_at < now (+ window).
            models.Index(fields=["status", "due_at"], name="approval_due_idx"),
            # The inbox: status='pending' AND approver_group IN (my groups), due soon first.
            models.Index(fields=["approver_group", "status", "due_at"], name="approval_inbox_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["negotiation"],
                condition=Q(status="pending"),
                name="approval_one_pending_per_negotiation",
            )
        ]

    def __str__(self) -> str:
        return f"Approval #{self.pk} for {self.negotiation}"

    @property
    def is_pending(self) -> bool:
        return self.status == ApprovalStatus.PENDING


class DecisionKind(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    REQUEST_CHANGES = "request_changes", "Request changes"


class ApprovalDecision(models.Model):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The delegator, when a delegate decided for them.",
    )
    decision = models.CharField(max_length=20, choices=DecisionKind.choices)
    comment = models.TextField(blank=True)
    constraints = models.JSONField(
        default=list, blank=True, help_text="Constraints added with a change request."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "user"], name="approval_decision_one_per_user"
            ),
            models.UniqueConstraint(
                fields=["request", "on_behalf_of"],
                condition=Q(on_behalf_of__isnull=False),
                name="approval_decision_one_per_delegator",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.decision} #{self.request_id}"


class Delegation(models.Model):
    """The delegate may decide on the delegator's behalf between starts_at and ends_at."""

    delegator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delegations_given"
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delegations_received"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        indexes = [
            # Who may I decide for now: delegate=me AND starts_at <= now < ends_at.
            models.Index(fields=["delegate", "ends_at"], name="delegation_active_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="delegation_ends_after_start"
            ),
            models.CheckConstraint(
                condition=~Q(delegator=F("delegate")), name="delegation_not_to_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delegator} → {self.delegate}"
