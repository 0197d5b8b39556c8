"""The approval route form: every rule a route must satisfy, shared by admin and by
playbook file imports (so a file cannot hold a route admin would refuse)."""

from __future__ import annotations

from typing import Any

from django import forms

from approvals.models import ApprovalRoute, ConditionKind, ExpiryAction, RouteDecision
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
