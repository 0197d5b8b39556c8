"""Playbook admin: the change page (issues, fixed terms, roles with the profile
editor), the change note, drafts, versions you can compare, restore and test,
import and export of playbook files, and cloning."""

from __future__ import annotations

import json
import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from negotiator import playbook_io
from negotiator.admin.common import VersionedAdminMixin
from negotiator.admin.dry_run import DryRunForm, dry_run
from negotiator.admin.playbook_parts import (
    FixedTermInline,
    PlaybookImportForm,
    PlaybookIssueInline,
    PlaybookVersionInline,
    PolicyInline,
    PublishFailed,
    RoleInline,
    playbook_upload_import,
)
from negotiator.models import Negotiation, Playbook, PlaybookVersion
from negotiator.selectors.versions import (
    playbook_history,
    playbook_pending_draft,
    playbook_versions_diff,
)
from negotiator.services.errors import ServiceError
from negotiator.services.playbooks import playbook_publish
from negotiator.services.policies import playbook_policy_versions
from negotiator.services.versions import (
    playbook_clone,
    playbook_draft_publish,
    playbook_version_apply,
)


class PlaybookForm(forms.ModelForm):
    change_note = forms.CharField(
        max_length=200,
        required=False,
        label="Change note",
        help_text="Why you make this change, in a few words: it is shown in the version list.",
    )

    class Meta:
        model = Playbook
        fields = [
            "name",
            "description",
            "team",
            "pattern",
            "currency",
            "max_rounds",
            "deadline_minutes",
            "offer_ttl_rounds",
            "pace_seconds",
            "stall_threshold",
            "stall_window",
            "on_limit",
            "value_expression",
            "risk_expression",
        ]

    def clean(self):
        data = super().clean()
        if self.instance.pk and not (data.get("change_note") or "").strip():
            self.add_error("change_note", "Say in a few words why you change this playbook.")
        return data


class CloneForm(forms.Form):
    name = forms.CharField(max_length=120, label="Name of the copy")


def export_response(playbook: Playbook) -> HttpResponse:
    document = playbook_io.playbook_export(playbook)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", playbook.name).strip("-").lower() or "playbook"
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{slug}.json"'
    return response


@admin.register(Playbook)
class PlaybookAdmin(VersionedAdminMixin, admin.ModelAdmin):
    form = PlaybookForm
    list_display = [
        "name",
        "team",
        "pattern",
        "version_number",
        "draft",
        "max_rounds",
        "updated_at",
        "file_link",
    ]
    list_filter = ["pattern", "team"]
    search_fields = ["name", "description"]
    actions = ["export_action"]
    inlines = [
        PlaybookIssueInline,
        FixedTermInline,
        RoleInline,
        PolicyInline,
        PlaybookVersionInline,
    ]
    readonly_fields = ["current_version"]
    change_list_template = "admin/negotiator/playbook/change_list.html"
    change_form_template = "admin/negotiator/playbook/change_form.html"
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
        ("Save", {"fields": ["change_note"]}),
    ]

    @admin.display(description="version")
    def version_number(self, obj: Playbook) -> str:
        return f"v{obj.current_version.number}" if obj.current_version_id else "—"

    @admin.display(description="draft")
    def draft(self, obj: Playbook) -> str:
        pending = playbook_pending_draft(obj)
        return f"v{pending.number}" if pending else ""

    @admin.display(description="file")
    def file_link(self, obj: Playbook) -> str:
        url = reverse("admin:negotiator_playbook_export", args=[obj.pk])
        return format_html('<a href="{}" download>Export</a>', url)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("team", "current_version")

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        note = (form.cleaned_data.get("change_note") or "").strip() or "Created"
        draft = "_save_draft" in request.POST
        try:
            version = playbook_publish(
                playbook=form.instance, user=request.user, note=note, draft=draft
            )
        except ServiceError as exc:
            raise PublishFailed(str(exc)) from exc
        if version.is_draft:
            self.message_user(
                request,
                f"Saved draft v{version.number} of '{form.instance.name}'. It is not in force: "
                "test it on the versions page, then publish it.",
                messages.WARNING,
            )
        else:
            self.message_user(
                request, f"Version {version.number} of '{form.instance.name}' is in force."
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

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["pending_draft"] = playbook_pending_draft(obj) if obj is not None else None
        return super().render_change_form(request, context, add, change, form_url, obj)

    # versions ------------------------------------------------------------------------
    def history(self, obj: Playbook):
        return playbook_history(obj)

    def versions_diff(self, a: PlaybookVersion, b: PlaybookVersion):
        return playbook_versions_diff(a, b)

    def version_apply(self, *, version, user, note):
        return playbook_version_apply(version=version, user=user, note=note)

    def draft_publish(self, *, version, user):
        return playbook_draft_publish(version=version, user=user)

    # files and copies ------------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="negotiator_playbook_import"),
            path(
                "<path:object_id>/export/",
                wrap(self.export_view),
                name="negotiator_playbook_export",
            ),
            path(
                "<path:object_id>/clone/", wrap(self.clone_view), name="negotiator_playbook_clone"
            ),
            path(
                "<path:object_id>/versions/<int:number>/test/",
                wrap(self.version_test_view),
                name="negotiator_playbook_version_test",
            ),
            *self.version_urls(),
        ] + super().get_urls()

    @admin.action(description="Export the selected playbook as a file")
    def export_action(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose one playbook to export.", messages.WARNING)
            return None
        return export_response(queryset.get())

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return export_response(self._object_or_404(request, object_id))

    def clone_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        playbook = self._object_or_404(request, object_id)
        if not self.has_add_permission(request):
            raise PermissionDenied("Cloning a playbook needs the add permission.")
        form = CloneForm(request.POST or None, initial={"name": f"Copy of {playbook.name}"})
        if request.method == "POST" and form.is_valid():
            try:
                copy = playbook_clone(
                    playbook=playbook, name=form.cleaned_data["name"], user=request.user
                )
            except (ServiceError, playbook_io.PlaybookImportError) as exc:
                form.add_error("name", str(exc))
            else:
                self.message_user(request, f"Cloned '{playbook.name}' as '{copy.name}' (v1).")
                return HttpResponseRedirect(
                    reverse("admin:negotiator_playbook_change", args=[copy.pk])
                )
        context = self._context(request, playbook, f"Clone {playbook.name}") | {"form": form}
        return TemplateResponse(request, "admin/negotiator/playbook/clone.html", context)

    def version_test_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        """Test a (draft) version: the policies in force against a negotiation's
        recorded offers, with the version's fixed terms and deal measures."""
        playbook = self._object_or_404(request, object_id)
        version = self._version(playbook, number)
        form = DryRunForm(
            request.POST or None,
            user=request.user,
            negotiations=Negotiation.objects.filter(playbook=playbook),
        )
        rows = []
        if request.method == "POST" and form.is_valid():
            rows = dry_run(
                playbook_policy_versions(playbook),
                form.cleaned_data.get("offer"),
                form.cleaned_data.get("negotiation"),
                spec=version.spec,
            )
        context = self._context(request, playbook, f"Test {playbook} v{version.number}")
        context |= {"form": form, "rows": rows, "version": version, "versions": []}
        return TemplateResponse(request, "admin/negotiator/policy_dry_run.html", context)

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
