"""Shared admin parts: read-only history, and the version pages (list with who,
when and why; compare two versions field by field; restore; publish a draft)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from negotiator.services.errors import ServiceError


class ReadOnlyAdminMixin:
    """History is immutable: no add, change or delete from admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RestoreForm(forms.Form):
    note = forms.CharField(
        max_length=180,
        required=False,
        label="Change note",
        help_text="Why you go back to this version.",
    )


class VersionedAdminMixin:
    """Version pages for a model whose rows have immutable versions.

    Subclasses name ``history(obj)`` -> [(version, status)], ``versions_diff(a, b)``,
    ``version_apply(version=, user=, note=)`` and ``draft_publish(version=, user=)``."""

    def version_urls(self) -> list:
        info = self.model._meta.app_label, self.model._meta.model_name
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/versions/",
                wrap(self.versions_view),
                name="{}_{}_versions".format(*info),
            ),
            path(
                "<path:object_id>/versions/compare/",
                wrap(self.compare_view),
                name="{}_{}_compare".format(*info),
            ),
            path(
                "<path:object_id>/versions/<int:number>/restore/",
                wrap(require_POST(self.restore_view)),
                name="{}_{}_restore".format(*info),
            ),
            path(
                "<path:object_id>/versions/<int:number>/publish/",
                wrap(require_POST(self.publish_view)),
                name="{}_{}_publish".format(*info),
            ),
        ]

    def _object_or_404(self, request: HttpRequest, object_id: str, *, change: bool = False):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("No such object.")
        allowed = (
            self.has_change_permission(request, obj)
            if change
            else self.has_view_or_change_permission(request, obj)
        )
        if not allowed:
            raise PermissionDenied
        return obj

    def _context(self, request: HttpRequest, obj, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "object": obj,
            "opts": self.model._meta,
            "url_prefix": f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}",
            "can_change": self.has_change_permission(request, obj),
        }

    def versions_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._object_or_404(request, object_id)
        context = self._context(request, obj, f"Versions of {obj}")
        context |= {"history": self.history(obj), "restore_form": RestoreForm()}
        return TemplateResponse(request, "admin/negotiator/versions.html", context)

    def _version(self, obj, raw: Any):
        number = int(raw) if str(raw).isdigit() else -1
        version = obj.versions.filter(number=number).first()
        if version is None:
            raise Http404(f"{obj} has no version {raw}.")
        return version

    def compare_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._object_or_404(request, object_id)
        a = self._version(obj, request.GET.get("a", ""))
        b = self._version(obj, request.GET.get("b", ""))
        if a.number > b.number:
            a, b = b, a
        context = self._context(request, obj, f"{obj}: v{a.number} → v{b.number}")
        context |= {"a": a, "b": b, "changes": self.versions_diff(a, b)}
        return TemplateResponse(request, "admin/negotiator/version_compare.html", context)

    def restore_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        obj = self._object_or_404(request, object_id, change=True)
        version = self._version(obj, number)
        form = RestoreForm(request.POST)
        note = form.data.get("note", "").strip()[:180] if form.is_valid() else ""
        note = f"Restored v{number}" + (f": {note}" if note else "")
        self._apply(
            request, lambda: self.version_apply(version=version, user=request.user, note=note)
        )
        return HttpResponseRedirect(reverse(f"admin:{self._url_name()}_versions", args=[obj.pk]))

    def publish_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        obj = self._object_or_404(request, object_id, change=True)
        version = self._version(obj, number)
        self._apply(request, lambda: self.draft_publish(version=version, user=request.user))
        return HttpResponseRedirect(reverse(f"admin:{self._url_name()}_versions", args=[obj.pk]))

    def _apply(self, request: HttpRequest, action) -> None:
        try:
            made = action()
        except ServiceError as exc:
            self.message_user(request, f"Nothing changed: {exc}.", messages.ERROR)
            return
        self.message_user(request, f"Version {made.number} is now in force ({made.note}).")

    def _url_name(self) -> str:
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}"
