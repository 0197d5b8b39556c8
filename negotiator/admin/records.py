"""Admin for history and plumbing: immutable versions, audit events, negotiations
(read-only, team-scoped), worker heartbeats and outside seats."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from negotiator.admin.common import ReadOnlyAdminMixin
from negotiator.models import (
    AuditEvent,
    Negotiation,
    PlaybookVersion,
    PolicyVersion,
    SeatAgent,
    SeatCredential,
    SeatMessage,
    WorkerHeartbeat,
)
from negotiator.selectors.visibility import negotiations_visible_to
from negotiator.services.seats import seat_credential_revoke


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["hostname", "created_at", "token"]


@admin.register(PlaybookVersion)
class PlaybookVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["playbook", "number", "is_draft", "note", "created_by", "created_at"]
    list_filter = ["playbook", "is_draft"]
    readonly_fields = [
        "playbook",
        "number",
        "is_draft",
        "note",
        "digest",
        "created_by",
        "created_at",
        "spec_pretty",
    ]
    exclude = ["spec"]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("negotiator.view_playbookversion")

    @admin.display(description="spec")
    def spec_pretty(self, obj: PlaybookVersion) -> str:
        return format_html(
            '<pre class="spec">{}</pre>', json.dumps(obj.spec, indent=2, ensure_ascii=False)
        )


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "number",
        "is_draft",
        "kind",
        "severity",
        "scope",
        "playbook",
        "role_name",
        "active",
        "note",
        "created_by",
        "created_at",
    ]
    list_filter = ["is_draft", "kind", "severity", "scope", "active"]
    list_select_related = ["playbook", "created_by"]
    search_fields = ["name", "note"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["chain", "seq", "kind", "actor", "created_at"]
    list_filter = ["kind"]
    search_fields = ["chain", "kind", "actor"]
    readonly_fields = [
        "chain",
        "seq",
        "kind",
        "actor",
        "created_at",
        "payload_json",
        "prev_hash",
        "hash",
    ]


@admin.register(Negotiation)
class NegotiationAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "title",
        "playbook",
        "team",
        "status",
        "current_round",
        "max_rounds",
        "created_at",
    ]
    list_filter = ["status", "playbook", "team"]
    search_fields = ["title", "playbook__name"]
    readonly_fields = [f.name for f in Negotiation._meta.fields]

    def get_queryset(self, request):
        # The team rule holds in admin too: staff see their teams' negotiations.
        return negotiations_visible_to(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# --------------------------------------------------------------------------
# Outside seats: credentials (hash only: no secret is ever shown), messages
# --------------------------------------------------------------------------


@admin.register(SeatCredential)
class SeatCredentialAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Credentials are issued by the negotiation's pages or `manage.py
    seat_credential`; here they are listed and revoked. The secret is not stored."""

    list_display = [
        "prefix",
        "kind",
        "party",
        "negotiation_link",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "last_used_from",
        "uses",
    ]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "participant__role", "participant__negotiation__title"]
    exclude = ["secret_hash"]
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("participant")

    @admin.display(description="party")
    def party(self, obj: SeatCredential) -> str:
        return obj.participant.role

    @admin.display(description="negotiation")
    def negotiation_link(self, obj: SeatCredential) -> str:
        url = reverse("negotiation_detail", args=[obj.participant.negotiation_id])
        return format_html('<a href="{}">#{}</a>', url, obj.participant.negotiation_id)

    @admin.action(description="Revoke the selected credentials", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        live = [c for c in queryset.select_related("participant") if c.revoked_at is None]
        for credential in live:
            seat_credential_revoke(credential=credential, user=request.user)
        self.message_user(request, f"Revoked {len(live)} credential(s).", messages.SUCCESS)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("negotiator.change_seatcredential")


@admin.register(SeatMessage)
class SeatMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["message_id", "participant", "received_at", "offer"]
    search_fields = ["message_id"]
    list_select_related = ["participant"]


@admin.register(SeatAgent)
class SeatAgentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Set with `manage.py seat_agent` (the change is audited in the negotiation)."""

    list_display = ["participant", "url", "remote_task_id", "updated_at"]
