"""Admin: policy owners configure approval routes; requests and decisions are history."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from approvals.models import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalRoute,
    ConditionKind,
    Delegation,
    ExpiryAction,
    RouteDecision,
)
from approvals.services.gate import route_expression_compile
from negotiator.engine.cel import PolicyError

_NEEDS = {
    ConditionKind.DEAL_VALUE_ABOVE: "threshold",
    ConditionKind.RISK_ABOVE: "threshold",
    ConditionKind.PLAYBOOK: "playbook",
    ConditionKind.EXPRESSION: "expression",
}


class ApprovalRouteForm(forms.ModelForm):
    class Meta:
        model = ApprovalRoute
        fields = [
            "name",
            "description",
            "active",
            "order",
            "decision",
            "is_default",
            "condition_kind",
            "threshold",
            "playbook",
            "expression",
            "approver_group",
            "approvers_required",
            "sla_hours",
            "on_expiry",
            "escalation_group",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("condition_kind")
        needed = _NEEDS.get(kind)
        # Fields the kind does not use are cleared, so a route never carries a
        # stale threshold or rule that looks like it applies.
        for name in ("threshold", "playbook", "expression"):
            if name != needed and name in data:
                data[name] = "" if name == "expression" else None
        if needed == "threshold":
            threshold = data.get("threshold")
            if threshold is None:
                self.add_error("threshold", "Give the threshold this condition compares with.")
            elif kind == ConditionKind.RISK_ABOVE and not 0 <= threshold <= 1:
                self.add_error("threshold", "Risk lies between 0 and 1.")
        elif needed == "playbook" and not data.get("playbook"):
            self.add_error("playbook", "Choose the playbook whose agreements need approval.")
        elif needed == "expression":
            expression = (data.get("expression") or "").strip()
            data["expression"] = expression
            if not expression:
                self.add_error("expression", "Write the CEL rule, e.g. terms.price > 100000.0")
            else:
                try:
                    route_expression_compile(expression)
                except PolicyError as exc:
                    self.add_error("expression", f"The rule cannot be used: {exc}")
        self._decision_check(data)
        if data.get("on_expiry") == ExpiryAction.ESCALATE:
            second = data.get("escalation_group")
            if second is None:
                self.add_error("escalation_group", "Choose who decides once the SLA has passed.")
            elif second == data.get("approver_group"):
                self.add_error("escalation_group", "Escalate to a different group.")
        elif data.get("escalation_group") is not None:
            self.add_error("escalation_group", "Only routes that escalate name a second group.")
        return data

    def _decision_check(self, data: dict[str, Any]) -> None:
        """A person's route names who decides; the default route is a person's
        and takes every deal no other route takes; there is one default at most."""
        auto = data.get("decision") == RouteDecision.AUTO
        if not auto and data.get("approver_group") is None:
            self.add_error("approver_group", "Choose who decides deals on this route.")
        if not data.get("is_default"):
            return
        if auto:
            self.add_error(
                "is_default", "The default route sends deals to a person; it cannot approve."
            )
        if data.get("condition_kind") != ConditionKind.ALWAYS:
            self.add_error(
                "condition_kind",
                "The default route takes every deal no other route takes: "
                "choose 'Every agreement'.",
            )
        other = ApprovalRoute.objects.filter(is_default=True).exclude(pk=self.instance.pk).first()
        if other is not None:
            self.add_error(
                "is_default", f"'{other.name}' is the default route; untick it there first."
            )


@admin.register(ApprovalRoute)
class ApprovalRouteAdmin(admin.ModelAdmin):
    form = ApprovalRouteForm
    list_display = [
        "name",
        "order",
        "decision",
        "is_default",
        "condition_kind",
        "condition_summary",
        "approver_group",
        "approvers_required",
        "sla_hours",
        "on_expiry",
        "active",
    ]
    list_filter = ["active", "decision", "is_default", "condition_kind", "on_expiry"]
    search_fields = ["name", "description", "expression"]
    fieldsets = [
        (None, {"fields": ["name", "description", "active", "order"]}),
        (
            "Decision",
            {
                "fields": ["decision", "is_default"],
                "description": "A route approves automatically only deals that passed every "
                "policy; any failed check sends the deal to a person. The default route "
                "takes the deals that need a person and match no other route.",
            },
        ),
        (
            "When",
            {
                "fields": ["condition_kind", "threshold", "playbook", "expression"],
                "description": "Value/risk conditions use the threshold; 'given playbook' the "
                "playbook; 'CEL expression' the rule (variables: terms, fixed, deal). When "
                "several routes match, the lowest order leads.",
            },
        ),
        ("Who", {"fields": ["approver_group", "approvers_required", "approvers_see_limits"]}),
        ("Deadline", {"fields": ["sla_hours", "on_expiry", "escalation_group"]}),
    ]

    @admin.display(description="Condition")
    def condition_summary(self, obj: ApprovalRoute) -> str:
        return obj.condition_text()


class ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ApprovalDecisionInline(ReadOnly, admin.TabularInline):
    model = ApprovalDecision
    extra = 0
    fields = ["user", "on_behalf_of", "decision", "comment", "constraints", "created_at"]
    readonly_fields = fields


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnly, admin.ModelAdmin):
    list_display = [
        "pk",
        "negotiation",
        "route",
        "status",
        "approver_group",
        "due_at",
        "decided_at",
    ]
    list_filter = ["status", "route", "escalated"]
    inlines = [ApprovalDecisionInline]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_staff


@admin.register(ApprovalDecision)
class ApprovalDecisionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["request", "user", "on_behalf_of", "decision", "created_at"]
    list_filter = ["decision"]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_staff


@admin.register(Delegation)
class DelegationAdmin(admin.ModelAdmin):
    list_display = ["delegator", "delegate", "starts_at", "ends_at", "revoked_at"]
    list_filter = ["revoked_at"]
