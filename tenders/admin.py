"""Admin for tenders: the supplier registry, tender playbooks (with a Red team
button that plays the playbook against the adversaries and shows the report),
and tenders (read-only: they change through their services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from negotiator.admin.common import ReadOnlyAdminMixin
from negotiator.services.errors import ServiceError
from tenders.models import BidderCredential, Supplier, Tender, TenderPlaybook
from tenders.services.outside import bidder_credential_revoke
from tenders.services.redteam import RUNNERS, redteam_run
from tenders.services.setup import bidders_parse, scoring_rule, tender_config_parse

ADMIN_RUNS = 20


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "contact")
    search_fields = ("name", "owner", "contact")


class TenderPlaybookForm(forms.ModelForm):
    """The settings and bidders as JSON, checked exactly as a tender file's import
    checks them (a bad value is a form error; nothing is saved)."""

    class Meta:
        model = TenderPlaybook
        fields = ("config", "bidders")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        playbook = self.instance.playbook
        if playbook.current_version_id is None:
            raise ValidationError("The playbook has no published version.")
        spec = playbook.current_version.spec
        try:
            config = tender_config_parse(data.get("config"))
            scoring_rule(spec, config)
        except ServiceError as exc:
            self.add_error("config", str(exc))
            return data
        try:
            data["bidders"] = bidders_parse(data.get("bidders"), spec, config)
        except ServiceError as exc:
            self.add_error("bidders", str(exc))
            return data
        known = set(Supplier.objects.values_list("name", flat=True))
        missing = sorted({b["supplier"] for b in data["bidders"]} - known)
        if missing:
            self.add_error("bidders", f"no supplier named {missing[0]!r}: add it first")
        return data


@admin.register(TenderPlaybook)
class TenderPlaybookAdmin(admin.ModelAdmin):
    form = TenderPlaybookForm
    list_display = ("playbook", "updated_at")
    readonly_fields = ("playbook",)

    def has_add_permission(self, request) -> bool:
        return False  # a tender playbook comes from a tender file (manage.py import_tender)

    change_form_template = "admin/tenders/tenderplaybook/change_form.html"

    def get_urls(self):
        return [
            path(
                "<int:pk>/redteam/",
                self.admin_site.admin_view(self.redteam_view),
                name="tenders_tenderplaybook_redteam",
            )
        ] + super().get_urls()

    def redteam_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        template = get_object_or_404(TenderPlaybook.objects.select_related("playbook"), pk=pk)
        reports, error = [], ""
        adversary = request.POST.get("adversary", "all")
        if request.method == "POST":
            try:
                seed = int(request.POST.get("seed") or 1)
                reports = redteam_run(
                    template=template, playbook=adversary, runs=ADMIN_RUNS, seed=seed
                )
            except (ValueError, ServiceError) as exc:
                error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Red team: {template.playbook.name}",
            "template": template,
            "adversaries": ["all", *RUNNERS],
            "adversary": adversary,
            "runs": ADMIN_RUNS,
            "reports": reports,
            "error": error,
            "total_breaches": sum(r.breaches for r in reports),
            "total_leaks": sum(r.leaks for r in reports),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/tenders/tenderplaybook/redteam.html", context)


@admin.register(Tender)
class TenderAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "playbook",
        "status",
        "award_supplier",
        "suspicion",
        "flagged",
        "created_at",
    )
    list_filter = ("status", "flagged")
    search_fields = ("title", "award_supplier")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BidderCredential)
class BidderCredentialAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """An outside bidder's credentials: issued from the tender's pages, listed and
    revoked here. The secret is not stored."""

    list_display = [
        "prefix",
        "bidder",
        "tender_link",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "last_used_from",
        "uses",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "bidder__supplier__name", "bidder__tender__title"]
    exclude = ["secret_hash"]
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("bidder__supplier")

    @admin.display(description="tender")
    def tender_link(self, obj: BidderCredential) -> str:
        url = reverse("tenders:detail", args=[obj.bidder.tender_id])
        return format_html('<a href="{}">#{}</a>', url, obj.bidder.tender_id)

    @admin.action(description="Revoke the selected credentials", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        live = [c for c in queryset.select_related("bidder__supplier") if c.revoked_at is None]
        for credential in live:
            bidder_credential_revoke(credential=credential, user=request.user)
        self.message_user(request, f"Revoked {len(live)} credential(s).", messages.SUCCESS)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("tenders.change_biddercredential")
