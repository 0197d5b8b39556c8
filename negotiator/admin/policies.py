"""Policy admin: a form per policy kind, the change note, drafts, versions you can
compare and restore, the dry run and the "test this rule" panel for CEL rules."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from negotiator.admin.common import ReadOnlyAdminMixin, VersionedAdminMixin
from negotiator.admin.dry_run import DryRunForm, dry_run
from negotiator.admin.rule_test import rule_test_run
from negotiator.admin_forms import KIND_PARAMS, RULE_EXAMPLES, PolicyForm
from negotiator.models import Policy, PolicyScope, PolicyVersion
from negotiator.selectors.versions import policy_history, policy_pending_draft, policy_versions_diff
from negotiator.services.policies import VERSIONED_FIELDS, policy_save
from negotiator.services.versions import policy_draft_publish, policy_version_apply


def policy_scope_text(obj: Policy) -> str:
    if obj.scope == PolicyScope.ALL:
        return "every playbook"
    if obj.scope == PolicyScope.NEGOTIATION:
        return f"negotiation #{obj.negotiation_id}"
    label = obj.playbook.name if obj.playbook_id else "?"
    return f"{label} / {obj.role_name}" if obj.scope == PolicyScope.ROLE else label


class PolicyVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PolicyVersion
    extra = 0
    fields = [
        "number",
        "is_draft",
        "note",
        "kind",
        "severity",
        "active",
        "created_by",
        "created_at",
    ]
    readonly_fields = fields
    ordering = ["-number"]
    verbose_name_plural = "Versions (compare and restore on the versions page)"


@admin.register(Policy)
class PolicyAdmin(VersionedAdminMixin, admin.ModelAdmin):
    form = PolicyForm
    change_form_template = "admin/negotiator/policy/change_form.html"
    list_display = [
        "full_name",
        "category",
        "kind",
        "severity",
        "version",
        "draft",
        "active",
    ]
    list_filter = ["category", "severity", "scope", "kind", "active", "playbook"]
    search_fields = ["name", "description", "role_name", "playbook__name"]
    inlines = [PolicyVersionInline]
    actions = ["dry_run_action"]
    readonly_fields = ["current_version", "dry_run_link"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The kind fields are added per playbook in PolicyForm.__init__, not declared.
        kwargs["fields"] = [*PolicyForm.Meta.fields, "editor", "change_note"]
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        kinds = [
            (
                label,
                {"fields": fields, "classes": ["kind-params", f"kind-{kind}"]},
            )
            for kind, fields, label in PolicyForm.kind_fieldsets()
        ]
        return [
            (None, {"fields": ["name", "description", "category", "severity", "active"]}),
            ("Where it applies", {"fields": ["scope", "playbook", "role_name"]}),
            ("Rule", {"fields": ["kind", "editor"]}),
            *kinds,
            ("Parameters as JSON", {"fields": ["parameters"], "classes": ["advanced-params"]}),
            ("Save", {"fields": ["change_note", "current_version", "dry_run_link"]}),
        ]

    @admin.display(description="policy", ordering="name")
    def full_name(self, obj: Policy) -> str:
        return f"{obj.name} · {policy_scope_text(obj)}"

    @admin.display(description="scope")
    def scope_label(self, obj: Policy) -> str:
        return policy_scope_text(obj)

    @admin.display(description="version")
    def version(self, obj: Policy) -> str:
        return f"v{obj.current_version.number}" if obj.current_version_id else "—"

    @admin.display(description="draft")
    def draft(self, obj: Policy) -> str:
        pending = policy_pending_draft(obj)
        return f"v{pending.number}" if pending else ""

    @admin.display(description="dry run")
    def dry_run_link(self, obj: Policy) -> str:
        if not obj.pk:
            return "Save the policy first."
        url = reverse("admin:negotiator_policy_dry_run") + f"?ids={obj.pk}"
        return format_html('<a class="button" href="{}">Dry run this policy</a>', url)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("playbook", "current_version")

    def get_object(self, request, object_id, from_field=None):
        """A policy with a pending draft opens with the draft's fields, so the
        owner continues the draft; saving without "draft" publishes it."""
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "GET":
            pending = policy_pending_draft(obj)
            if pending is not None:
                for field in VERSIONED_FIELDS:
                    setattr(obj, field, getattr(pending, field))
                obj.editing_draft = pending
        return obj

    def save_model(self, request, obj, form, change) -> None:
        note = (form.cleaned_data.get("change_note") or "").strip() or ("" if change else "Created")
        draft = "_save_draft" in request.POST
        version = policy_save(policy=obj, user=request.user, note=note, draft=draft)
        obj.saved_version = version

    def response_add(self, request, obj, post_url_continue=None):
        return self._after_save(request, obj) or super().response_add(
            request, obj, post_url_continue
        )

    def response_change(self, request, obj):
        return self._after_save(request, obj) or super().response_change(request, obj)

    def _after_save(self, request, obj) -> HttpResponse | None:
        version = getattr(obj, "saved_version", None)
        if "_save_draft" not in request.POST or version is None:
            return None
        self.message_user(
            request,
            f"Saved draft v{version.number} of '{obj.name}'. It is not in force: test it with "
            "the dry run, then publish it from the versions page.",
            messages.WARNING,
        )
        return HttpResponseRedirect(reverse("admin:negotiator_policy_change", args=[obj.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context |= {
            "editing_draft": getattr(obj, "editing_draft", None),
            "rule_examples": RULE_EXAMPLES,
            "rule_samples": _samples(context["adminform"].form),
            "kinds_with_params": list(KIND_PARAMS),
        }
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Checks point at versions; deactivate a policy instead of deleting it.
        return False

    # versions ------------------------------------------------------------------------
    def history(self, obj: Policy):
        return policy_history(obj)

    def versions_diff(self, a: PolicyVersion, b: PolicyVersion):
        return policy_versions_diff(a, b)

    def version_apply(self, *, version, user, note):
        return policy_version_apply(version=version, user=user, note=note)

    def draft_publish(self, *, version, user):
        return policy_draft_publish(version=version, user=user)

    # dry run and rule test ---------------------------------------------------------
    @admin.action(description="Dry run the selected policies")
    def dry_run_action(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(reverse("admin:negotiator_policy_dry_run") + f"?ids={ids}")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("dry-run/", wrap(self.dry_run_view), name="negotiator_policy_dry_run"),
            path(
                "test-rule/",
                wrap(require_POST(self.rule_test_view)),
                name="negotiator_policy_test_rule",
            ),
            *self.version_urls(),
        ] + super().get_urls()

    def dry_run_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        versions = _versions_from(request.GET)
        form = DryRunForm(request.POST or None, user=request.user)
        rows: list[dict[str, Any]] = []
        if request.method == "POST" and form.is_valid() and versions:
            rows = dry_run(
                versions, form.cleaned_data.get("offer"), form.cleaned_data.get("negotiation")
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Policy dry run",
            "versions": [(v, policy_scope_text(v.policy)) for v in versions],
            "form": form,
            "rows": rows,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/negotiator/policy_dry_run.html", context)

    def rule_test_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        result = rule_test_run(request.POST)
        return TemplateResponse(request, "admin/negotiator/policy/rule_test.html", result)


def _ids(raw: str) -> list[int]:
    return [int(x) for x in raw.split(",") if x.strip().isdigit()]


def _versions_from(query) -> list[PolicyVersion]:
    """?ids= policies (their versions in force), ?versions= exact versions (drafts)."""
    policies = Policy.objects.filter(pk__in=_ids(query.get("ids", ""))).exclude(
        current_version=None
    )
    chosen = [p.current_version_id for p in policies]
    chosen += _ids(query.get("versions", ""))
    return list(
        PolicyVersion.objects.filter(pk__in=chosen)
        .select_related("policy__playbook", "playbook")
        .order_by("policy_id", "number")
    )


def _samples(form) -> list[dict[str, Any]]:
    """One sample value per issue for the rule test (the middle of a range, the
    first option), so a rule can be tried without typing an offer."""
    out = []
    for item in getattr(form, "context", None).issues if hasattr(form, "context") else []:
        if item.get("type", "numeric") == "numeric":
            lower, upper = item.get("lower") or 0, item.get("upper") or 0
            middle = (lower + upper) / 2
            value = int(middle) if item.get("integer") else middle
            out.append({"name": item["name"], "value": value, "options": None, "item": item})
        else:
            options = [str(o) for o in item.get("options", [])]
            out.append(
                {
                    "name": item["name"],
                    "value": options[0] if options else "",
                    "options": options,
                    "item": item,
                }
            )
    return out
