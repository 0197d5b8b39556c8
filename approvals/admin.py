"""Admin: policy owners configure approval routes; requests and decisions are history."""

from __future__ import annotations

from django.contrib import admin

from approvals.models import ApprovalDecision, ApprovalRequest, ApprovalRoute, Delegation
from approvals.route_forms import ApprovalRouteForm


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
