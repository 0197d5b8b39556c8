"""Admin: superusers make and revoke anyone's API tokens; team administrators
(staff with the webhook permissions) manage their teams' webhook endpoints and
read the delivery log, with a resend action. Secrets are shown once, in the
message after saving; every change goes through the services (audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from api.models import (
    ApiToken,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventKind,
)
from api.services import tokens as token_services
from api.services import webhook_endpoints as endpoint_services
from api.services.webhooks import webhook_event_resend
from negotiator import permissions
from negotiator.services.errors import ServiceError


def _team_ids(request: HttpRequest) -> set[int] | None:
    """The teams whose webhooks this person manages; None: all (superusers)."""
    if request.user.is_superuser:
        return None
    return set(permissions.group_ids(request.user))


# --------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------


class TokenAddForm(forms.ModelForm):
    days = forms.IntegerField(
        min_value=1, max_value=token_services.MAX_DAYS, initial=token_services.DEFAULT_DAYS
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "state", "created_at", "expires_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "created_at",
        "created_by",
        "expires_at",
        "last_used_at",
        "last_used_from",
        "revoked_at",
        "revoked_by",
    ]

    @admin.display(description="State")
    def state(self, obj: ApiToken) -> str:
        return obj.state()

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A token acts as its user: only superusers make one for someone else.
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = TokenAddForm
            kwargs["fields"] = ["user", "name", "days"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj=None):
        return ["user", "name", "days"] if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        token, secret = token_services.token_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            days=form.cleaned_data["days"],
            created_by=request.user,
        )
        obj.pk = token.pk
        messages.warning(
            request,
            f"API token for {token.user.get_username()}: {secret} — copy it now, it is not "
            "shown again.",
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        if not request.user.is_superuser:
            self.message_user(request, "Only superusers revoke tokens here.", messages.ERROR)
            return
        for token in queryset:
            token_services.token_revoke(token=token, user=request.user)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")


# --------------------------------------------------------------------------
# Webhook endpoints
# --------------------------------------------------------------------------


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=WebhookEventKind.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=WebhookEventKind.values,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["team", "url", "description", "events", "active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            if "url" in data:
                data["url"] = endpoint_services.webhook_url_check(data["url"])
        except ServiceError as exc:
            self.add_error("url", str(exc))
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "team", "active", "secret_prefix", "updated_at"]
    list_filter = ["active", "team"]
    actions = ["rotate_secret"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        qs = super().get_queryset(request).select_related("team")
        teams = _team_ids(request)
        return qs if teams is None else qs.filter(team_id__in=teams)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        if db_field.name == "team":
            teams = _team_ids(request)
            qs = Group.objects.order_by("name")
            kwargs["queryset"] = qs if teams is None else qs.filter(pk__in=teams)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        data = form.cleaned_data
        if change:
            endpoint_services.webhook_endpoint_update(
                endpoint=obj,
                user=request.user,
                url=data["url"],
                events=data["events"],
                active=data["active"],
                description=data["description"],
            )
            return
        endpoint, secret = endpoint_services.webhook_endpoint_create(
            team=data["team"],
            url=data["url"],
            events=data["events"],
            description=data["description"],
            user=request.user,
        )
        obj.pk = endpoint.pk
        messages.warning(
            request,
            f"Signing secret for {endpoint.url}: {secret} — give it to the receiver now; "
            "it is not shown again (Rotate secret makes a new one).",
        )

    @admin.action(description="Rotate the signing secret (shows the new one once)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            secret = endpoint_services.webhook_secret_rotate(endpoint=endpoint, user=request.user)
            messages.warning(
                request, f"New signing secret for {endpoint.url}: {secret} — not shown again."
            )


# --------------------------------------------------------------------------
# The delivery log
# --------------------------------------------------------------------------


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = readonly_fields = [
        "attempt",
        "started_at",
        "status_code",
        "duration_ms",
        "error",
        "response_excerpt",
        "next_retry_at",
        "resend",
    ]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class _TeamScoped:
    team_path = "endpoint__team_id"

    def get_queryset(self, request: HttpRequest):
        qs = super().get_queryset(request)
        teams = _team_ids(request)
        return qs if teams is None else qs.filter(**{f"{self.team_path}__in": teams})

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_resend_permission(self, request: HttpRequest) -> bool:
        # Whoever manages the team's endpoints may send their events again.
        return request.user.has_perm("api.change_webhookendpoint")


def _resend(admin_view, request: HttpRequest, events) -> None:
    for event in events:
        webhook_event_resend(event=event, user=request.user)
    admin_view.message_user(request, f"Sending {len(events)} event(s) again now.")


@admin.register(WebhookEvent)
class WebhookEventAdmin(_TeamScoped, admin.ModelAdmin):
    list_display = ["kind", "event_id", "endpoint", "negotiation", "status", "attempts"]
    list_display += ["next_attempt_at", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["event_id"]
    readonly_fields = ["endpoint", "event_id", "kind", "negotiation", "body", "status"]
    readonly_fields += ["attempts", "next_attempt_at", "created_at", "delivered_at"]
    inlines = [DeliveryInline]
    actions = ["resend"]

    @admin.action(
        description="Resend the selected events now (same id and body)", permissions=["resend"]
    )
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        _resend(self, request, list(queryset))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_TeamScoped, admin.ModelAdmin):
    team_path = "event__endpoint__team_id"
    list_display = ["event", "attempt", "started_at", "status_code", "duration_ms", "error"]
    list_display += ["next_retry_at", "resend"]
    list_filter = ["status_code"]
    actions = ["resend"]

    @admin.action(
        description="Resend the events of the selected deliveries now", permissions=["resend"]
    )
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        events = {d.event_id: d.event for d in queryset.select_related("event")}
        _resend(self, request, list(events.values()))
