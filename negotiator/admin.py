"""Admin: where policy owners configure playbooks and policies.

Every save goes through services, so validation, versioning and the audit trail
are the same as for imports. Bad input re-renders the form with the reason;
nothing is half-saved (the admin wraps each save in one transaction).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from negotiator import playbook_io
from negotiator.engine import policies as engine_policies
from negotiator.engine.preferences import profile_from_dict
from negotiator.engine.strategies import STRATEGIES, make_strategy
from negotiator.forms import BoundedJSONField
from negotiator.models import (
    AuditEvent,
    FixedTerm,
    Negotiation,
    Playbook,
    PlaybookIssue,
    PlaybookVersion,
    Policy,
    PolicyScope,
    PolicyVersion,
    Role,
    SeatAgent,
    SeatCredential,
    SeatMessage,
    WorkerHeartbeat,
)
from negotiator.selectors.visibility import negotiations_visible_to
from negotiator.services.errors import ServiceError
from negotiator.services.plans import deal_measure
from negotiator.services.playbooks import playbook_publish
from negotiator.services.policies import policy_errors, policy_save, policy_spec_of
from negotiator.services.seats import seat_credential_revoke


class ReadOnlyAdminMixin:
    """History is immutable: no add, change or delete from admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["hostname", "created_at", "token"]


# --------------------------------------------------------------------------
# Playbooks
# --------------------------------------------------------------------------


class PlaybookIssueForm(forms.ModelForm):
    class Meta:
        model = PlaybookIssue
        fields = [
            "order",
            "name",
            "label",
            "kind",
            "unit",
            "minimum",
            "maximum",
            "step",
            "integer",
            "options",
        ]
        field_classes = {"options": BoundedJSONField}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if kind == "numeric":
            lo, hi, step = data.get("minimum"), data.get("maximum"), data.get("step")
            if lo is None or hi is None:
                raise ValidationError("A numeric issue needs a minimum and a maximum.")
            if lo > hi:
                raise ValidationError(f"Minimum {lo:g} is greater than maximum {hi:g}.")
            if step is not None and step <= 0:
                self.add_error("step", "Step must be positive.")
        elif kind in ("categorical", "ordinal"):
            options = data.get("options")
            if (
                not isinstance(options, list)
                or not options
                or not all(isinstance(o, str) and o for o in options)
            ):
                self.add_error(
                    "options", 'List the options as JSON strings, e.g. ["gold", "silver"].'
                )
            elif len(set(options)) != len(options):
                self.add_error("options", "Options must be distinct.")
        return data


class PlaybookIssueInline(admin.TabularInline):
    model = PlaybookIssue
    form = PlaybookIssueForm
    extra = 0
    fields = [
        "order",
        "name",
        "label",
        "kind",
        "unit",
        "minimum",
        "maximum",
        "step",
        "integer",
        "options",
    ]


class FixedTermInline(admin.TabularInline):
    model = FixedTerm
    extra = 0
    fields = ["order", "name", "value"]


class RoleForm(forms.ModelForm):
    strategy = forms.ChoiceField(choices=[(name, name) for name in sorted(STRATEGIES)])

    class Meta:
        model = Role
        fields = ["order", "name", "label", "strategy", "strategy_params", "owner_group", "profile"]
        field_classes = {"strategy_params": BoundedJSONField, "profile": BoundedJSONField}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        strategy = data.get("strategy")
        params = data.get("strategy_params") or {}
        if strategy:
            if not isinstance(params, dict):
                self.add_error("strategy_params", "Strategy parameters must be a JSON object.")
            else:
                try:
                    make_strategy(strategy, **params)
                except (TypeError, ValueError) as exc:
                    self.add_error("strategy_params", f"{strategy}: {exc}")
        profile = data.get("profile")
        try:
            parsed = profile_from_dict(profile or {})
        except (ValueError, TypeError, KeyError) as exc:
            self.add_error("profile", f"Not a valid preference profile: {exc}")
        else:
            known = getattr(self, "posted_issue_names", None)
            if known is not None:
                used = {iv.issue for items in parsed.criteria.values() for iv in items}
                missing = sorted(used - known)
                if missing:
                    self.add_error(
                        "profile",
                        f"The profile values issues this playbook does not have: {', '.join(missing)}.",
                    )
        return data


class RoleInline(admin.StackedInline):
    model = Role
    form = RoleForm
    extra = 0
    fields = [("order", "name", "label"), ("strategy", "strategy_params"), "owner_group", "profile"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if request.method == "POST":
            # Validate each role's profile against the issues being saved with it.
            prefix = "issues"
            total = int(request.POST.get(f"{prefix}-TOTAL_FORMS", "0") or 0)
            names = {
                request.POST.get(f"{prefix}-{i}-name", "").strip()
                for i in range(total)
                if not request.POST.get(f"{prefix}-{i}-DELETE")
            } - {""}

            class Bound(formset.form):
                posted_issue_names = names

            formset.form = Bound
        return formset


class PolicyInline(admin.TabularInline):
    model = Policy
    fk_name = "playbook"
    extra = 0
    fields = ["name", "kind", "severity", "scope", "role_name", "active"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class PlaybookVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PlaybookVersion
    extra = 0
    fields = ["number", "digest", "created_by", "created_at"]
    readonly_fields = fields
    ordering = ["-number"]


class PublishFailed(Exception):
    pass


class PlaybookImportForm(forms.Form):
    document = forms.FileField(
        label="Playbook file",
        help_text="A JSON playbook document, as written by `manage.py export_playbook`.",
    )


def playbook_upload_import(request: HttpRequest) -> tuple[PlaybookImportForm, Playbook | None]:
    """Import the uploaded document, all or nothing; each problem becomes a form
    error naming its path. An upload over the size limit is refused from its
    declared length, before the body is read."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    limit = playbook_io.MAX_DOCUMENT_BYTES + 65_536  # the file and the form around it
    if not declared.isdigit() or int(declared) > limit:
        form = PlaybookImportForm()
        form.add_error(
            None,
            f"(document): the file has more than {playbook_io.MAX_DOCUMENT_BYTES:,} bytes, "
            "the limit for a playbook",
        )
        return form, None
    form = PlaybookImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return form, None
    upload = form.cleaned_data["document"]
    try:
        document = playbook_io.document_parse(upload.read(playbook_io.MAX_DOCUMENT_BYTES + 1))
        return form, playbook_io.playbook_import(document, user=request.user)
    except playbook_io.PlaybookImportError as exc:
        for where, message in exc.errors:
            form.add_error("document", f"{where}: {message}")
    return form, None


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "team",
        "pattern",
        "version_number",
        "max_rounds",
        "pace_seconds",
        "updated_at",
    ]
    list_filter = ["pattern", "team"]
    search_fields = ["name", "description"]
    inlines = [
        PlaybookIssueInline,
        FixedTermInline,
        RoleInline,
        PolicyInline,
        PlaybookVersionInline,
    ]
    readonly_fields = ["current_version"]
    change_list_template = "admin/negotiator/playbook/change_list.html"
    fieldsets = [
        (
            None,
            {"fields": ["name", "description", "team", "pattern", "currency", "current_version"]},
        ),
        (
            "Protocol limits",
            {
                "fields": [
                    ("max_rounds", "deadline_minutes"),
                    ("offer_ttl_rounds", "pace_seconds"),
                    ("stall_threshold", "stall_window"),
                    "on_limit",
                ]
            },
        ),
        ("Deal value and risk", {"fields": ["value_expression", "risk_expression"]}),
    ]

    @admin.display(description="version")
    def version_number(self, obj: Playbook) -> str:
        return f"v{obj.current_version.number}" if obj.current_version_id else "—"

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        try:
            version = playbook_publish(playbook=form.instance, user=request.user)
        except ServiceError as exc:
            raise PublishFailed(str(exc)) from exc
        self.message_user(request, f"Published version {version.number} of '{form.instance.name}'.")

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="negotiator_playbook_import",
            )
        ] + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a playbook document: the same all-or-nothing import as
        `manage.py import_playbook`, its problems shown in the form."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied("Importing playbooks needs the add and change permissions.")
        form = PlaybookImportForm()
        if request.method == "POST":
            form, playbook = playbook_upload_import(request)
            if playbook is not None:
                self.message_user(
                    request,
                    f"Imported '{playbook.name}' (version {playbook.current_version.number}).",
                )
                return HttpResponseRedirect(reverse("admin:negotiator_playbook_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a playbook",
            "form": form,
            "opts": self.model._meta,
            "max_bytes": playbook_io.MAX_DOCUMENT_BYTES,
        }
        status = 400 if form.errors else 200
        return TemplateResponse(
            request, "admin/negotiator/playbook/import.html", context, status=status
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except PublishFailed as exc:
            # The admin's transaction rolled back: nothing was saved.
            self.message_user(
                request, f"Nothing was saved. The playbook is not valid: {exc}", messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())


@admin.register(PlaybookVersion)
class PlaybookVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["playbook", "number", "digest", "created_by", "created_at"]
    list_filter = ["playbook"]
    readonly_fields = ["playbook", "number", "digest", "created_by", "created_at", "spec_pretty"]
    exclude = ["spec"]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("negotiator.view_playbookversion")

    @admin.display(description="spec")
    def spec_pretty(self, obj: PlaybookVersion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.spec, indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------


class PolicyForm(forms.ModelForm):
    class Meta:
        model = Policy
        fields = [
            "name",
            "description",
            "category",
            "scope",
            "playbook",
            "role_name",
            "kind",
            "parameters",
            "severity",
            "active",
        ]
        field_classes = {"parameters": BoundedJSONField}
        help_texts = {
            "parameters": (
                "JSON, by kind: cap {issue, max} · floor {issue, min} · range {issue, min, max} · "
                "allowed_values {issue, values} · min_margin {issue, cost_key, min_percent} · "
                "sla {issue, max} · required_fixed_term {term, value?} · "
                "disclosure {keys, tolerance_percent?} · approval_threshold {measure: value|risk, above} · "
                "expression {expression, message?}"
            )
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        candidate = Policy(
            pk=self.instance.pk,
            name=data.get("name", ""),
            category=data.get("category", ""),
            scope=data.get("scope", PolicyScope.ALL),
            playbook=data.get("playbook"),
            role_name=data.get("role_name", ""),
            negotiation=self.instance.negotiation if self.instance.pk else None,
            kind=data.get("kind", ""),
            parameters=data.get("parameters"),
            severity=data.get("severity", ""),
            active=data.get("active", True),
        )
        if candidate.scope == PolicyScope.ALL and candidate.playbook is not None:
            self.add_error("playbook", "A policy for every playbook names no playbook.")
            return data
        for where, message in policy_errors(candidate):
            field = where.split(".", 1)[0].split("[", 1)[0]
            if field not in self.fields:
                field = "parameters"
            self.add_error(field, f"{where}: {message}")
        return data


class PolicyVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PolicyVersion
    extra = 0
    fields = [
        "number",
        "kind",
        "parameters",
        "severity",
        "scope",
        "active",
        "created_by",
        "created_at",
    ]
    readonly_fields = fields
    ordering = ["-number"]


class DryRunForm(forms.Form):
    offer_json = forms.CharField(
        label="Offer JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text='e.g. {"sender": "seller", "terms": {"price": 88000}, "rationale": "…"}',
    )
    negotiation = forms.ModelChoiceField(
        queryset=Negotiation.objects.select_related("playbook").order_by("-pk"),
        required=False,
        help_text="Or evaluate against every offer of this negotiation.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        raw = (data.get("offer_json") or "").strip()
        if not raw and not data.get("negotiation"):
            raise ValidationError("Paste an offer or choose a negotiation.")
        if raw:
            try:
                offer = playbook_io.json_text_parse(raw)
            except playbook_io.PlaybookImportError as exc:
                where, message = exc.errors[0]
                raise ValidationError(
                    f"The offer is not usable JSON: {where}: {message}."
                ) from None
            if not isinstance(offer, dict) or not isinstance(offer.get("terms"), dict):
                raise ValidationError('The offer must be an object with a "terms" object.')
            data["offer"] = offer
        return data


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = ["name", "category", "kind", "severity", "scope_label", "version", "active"]
    list_filter = ["category", "severity", "scope", "kind", "active", "playbook"]
    search_fields = ["name", "description", "role_name", "playbook__name"]
    inlines = [PolicyVersionInline]
    actions = ["dry_run_action"]
    readonly_fields = ["current_version", "dry_run_link"]

    @admin.display(description="scope")
    def scope_label(self, obj: Policy) -> str:
        if obj.scope == PolicyScope.ALL:
            return "every playbook"
        if obj.scope == PolicyScope.NEGOTIATION:
            return f"negotiation #{obj.negotiation_id}"
        label = obj.playbook.name if obj.playbook_id else "?"
        return f"{label} / {obj.role_name}" if obj.scope == PolicyScope.ROLE else label

    @admin.display(description="version")
    def version(self, obj: Policy) -> str:
        return f"v{obj.current_version.number}" if obj.current_version_id else "—"

    @admin.display(description="dry run")
    def dry_run_link(self, obj: Policy) -> str:
        if not obj.pk:
            return "Save the policy first."
        url = reverse("admin:negotiator_policy_dry_run") + f"?ids={obj.pk}"
        return format_html('<a class="button" href="{}">Dry run this policy</a>', url)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("playbook", "current_version")

    def save_model(self, request, obj, form, change) -> None:
        policy_save(policy=obj, user=request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Checks point at versions; deactivate a policy instead of deleting it.
        return False

    @admin.action(description="Dry run the selected policies")
    def dry_run_action(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(reverse("admin:negotiator_policy_dry_run") + f"?ids={ids}")

    def get_urls(self):
        return [
            path(
                "dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="negotiator_policy_dry_run",
            )
        ] + super().get_urls()

    def dry_run_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        raw_ids = request.GET.get("ids", "")
        try:
            ids = [int(x) for x in raw_ids.split(",") if x.strip()]
        except ValueError:
            ids = []
        policies = list(
            Policy.objects.filter(pk__in=ids).select_related("current_version", "playbook")
        )
        form = DryRunForm(request.POST or None)
        rows: list[dict[str, Any]] = []
        if request.method == "POST" and form.is_valid() and policies:
            rows = dry_run(
                policies, form.cleaned_data.get("offer"), form.cleaned_data.get("negotiation")
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Policy dry run",
            "policies": policies,
            "form": form,
            "rows": rows,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/negotiator/policy_dry_run.html", context)


def dry_run(
    policies: list[Policy], offer: dict[str, Any] | None, negotiation: Negotiation | None
) -> list[dict[str, Any]]:
    """Evaluate policies' current versions; nothing is written."""
    from negotiator.engine.offers import Offer as EngineOffer
    from negotiator.engine.outcomes import fixed_terms_hash

    specs = [policy_spec_of(p.current_version) for p in policies if p.current_version_id]
    cases: list[tuple[str, dict[str, Any], str, str, dict[str, Any], dict[str, Any]]] = []
    if offer is not None:
        playbook = next((p.playbook for p in policies if p.playbook_id), None)
        spec = playbook.current_version.spec if playbook and playbook.current_version_id else {}
        if negotiation is not None:
            spec = negotiation.playbook_version.spec
        sender = str(offer.get("sender", ""))
        role = next((r for r in spec.get("roles", []) if r["name"] == sender), None)
        cases.append(
            (
                "pasted offer",
                offer["terms"],
                sender,
                str(offer.get("rationale", "")),
                role["profile"] if role else {},
                spec,
            )
        )
    elif negotiation is not None:
        spec = negotiation.playbook_version.spec
        profiles = {p.role: p.profile for p in negotiation.participants.all()}
        for row in negotiation.offers.order_by("id"):
            if not row.terms:
                continue
            cases.append(
                (
                    f"round {row.round} · {row.sender} · {row.performative}",
                    row.terms,
                    row.sender,
                    row.rationale,
                    profiles.get(row.sender, {}),
                    spec,
                )
            )
    rows = []
    for label, terms, sender, rationale, profile, spec in cases:
        fixed = dict(spec.get("fixed_terms", {}))
        engine_offer = EngineOffer(
            performative="propose",
            sender=sender or "?",
            terms=terms,
            fixed_terms_hash=fixed_terms_hash(fixed),
            round=0,
            rationale=rationale,
        )
        context = engine_policies.CheckContext(
            fixed_terms=fixed,
            sender_role=sender,
            sender_profile=profile,
            deal_value=deal_measure(spec.get("value_expression", ""), terms),
            deal_risk=deal_measure(spec.get("risk_expression", ""), terms),
            stage="send",
            issue_types={i["name"]: i.get("type", "numeric") for i in spec.get("issues", [])},
        )
        for result in engine_policies.check(engine_offer, specs, context):
            rows.append(
                {
                    "case": label,
                    "terms": terms,
                    "result": result,
                    "evidence": json.dumps(
                        engine_policies.check_result_to_dict(result)["evidence"], indent=1
                    ),
                }
            )
    return rows


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "number",
        "kind",
        "severity",
        "scope",
        "active",
        "created_by",
        "created_at",
    ]
    list_filter = ["kind", "severity", "scope", "active"]
    search_fields = ["name"]


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
