"""What-if from admin: a "What-if" button on the playbook and policy change forms
posts the form as it is, unsaved, to a view that validates it exactly as the form
would and shows the replay of the playbook's last negotiations, current vs draft.
Nothing is saved: a policy becomes an unsaved row; a playbook's rows are written
inside a transaction that is always rolled back, only to read them as one spec
(the same code that publishes a version).

The playbook and policy admins are negotiator's, re-registered with the button
(analytics depends on negotiator, never the other way round)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms.formsets import all_valid
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from analytics.services.drafts import (
    DraftError,
    draft_current,
    draft_from_spec,
    draft_with_policies,
)
from analytics.services.whatif import MAX_LAST, whatif_replay
from negotiator.admin.playbooks import PlaybookAdmin
from negotiator.admin.policies import PolicyAdmin
from negotiator.models import Playbook, Policy, PolicyScope
from negotiator.selectors.visibility import playbooks_visible_to
from negotiator.services.playbooks import playbook_spec

DEFAULT_LAST = 20


def _last(request: HttpRequest) -> tuple[int, list[tuple[str, str]]]:
    raw = request.POST.get("whatif_last", "") or str(DEFAULT_LAST)
    try:
        last = int(raw)
    except ValueError:
        return DEFAULT_LAST, [("replay", f"'{raw}' is not a whole number of negotiations")]
    if not 1 <= last <= MAX_LAST:
        return DEFAULT_LAST, [("replay", f"replay between 1 and {MAX_LAST} negotiations")]
    return last, []


def _posted(request: HttpRequest):
    """The form as posted; a what-if saves nothing, so it needs no change note."""
    data = request.POST.copy()
    if not (data.get("change_note") or "").strip():
        data["change_note"] = "what-if (not saved)"
    return data


def _form_errors(form, formsets=()) -> list[tuple[str, str]]:
    errors = [(field, " ".join(messages)) for field, messages in form.errors.items()]
    for formset in formsets:
        for error in formset.non_form_errors():
            errors.append((formset.prefix, error))
        for index, errs in enumerate(formset.errors):
            for field, messages in errs.items():
                errors.append((f"{formset.prefix}[{index}].{field}", " ".join(messages)))
    return errors


def _whatif_playbooks(user):
    """Playbooks a global policy's what-if may replay: published, of the user's teams."""
    return playbooks_visible_to(user).exclude(current_version=None).order_by("name")


class WhatIfMixin:
    """The button's target: validate the posted form, replay, render; never save."""

    whatif_name = ""

    def get_urls(self):
        return [
            path(
                "whatif/<path:object_id>/",
                self.admin_site.admin_view(self.whatif_view),
                name=f"analytics_{self.whatif_name}_whatif",
            )
        ] + super().get_urls()

    def render_change_form(self, request, context, *args, **kwargs):
        context["whatif_playbooks"] = list(
            _whatif_playbooks(request.user).values_list("pk", "name")
        )
        return super().render_change_form(request, context, *args, **kwargs)

    def _render(self, request, *, title, draft_errors, report=None, subject=None, last=20):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "subject": subject,
            "errors": draft_errors,
            "report": report,
            "last": last,
        }
        status = 400 if draft_errors else 200
        return TemplateResponse(request, "admin/analytics/whatif.html", context, status=status)

    def _replay(self, request, playbook: Playbook | None, build, *, title: str, subject):
        last, errors = _last(request)
        if playbook is None:
            errors.append(("playbook", "choose the playbook whose negotiations to replay"))
        if errors:
            return self._render(request, title=title, draft_errors=errors, subject=subject)
        try:
            report = whatif_replay(
                playbook=playbook,
                current=draft_current(playbook),
                draft=build(),
                last=last,
                user=request.user,
            )
        except DraftError as exc:
            return self._render(request, title=title, draft_errors=exc.errors, subject=subject)
        return self._render(
            request, title=title, draft_errors=[], report=report, subject=subject, last=last
        )


class WhatIfPolicyAdmin(WhatIfMixin, PolicyAdmin):
    change_form_template = "admin/analytics/policy_change_form.html"
    whatif_name = "policy"

    def whatif_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse("Use the What-if button on the policy form.", status=405)
        obj = None if object_id == "add" else self.get_object(request, object_id)
        if obj is None and object_id != "add":
            raise PermissionDenied("No such policy.")
        if not (self.has_change_permission(request, obj) or self.has_add_permission(request)):
            raise PermissionDenied("What-if needs the permission to change policies.")
        form = self.get_form(request, obj, change=obj is not None)(_posted(request), instance=obj)
        title = "What-if: policy draft"
        if not form.is_valid():
            return self._render(request, title=title, draft_errors=_form_errors(form))
        policy = form.save(commit=False)  # an unsaved row: nothing is written
        playbook = policy.playbook if policy.scope != PolicyScope.ALL else None
        chosen = request.POST.get("whatif_playbook", "")
        if playbook is None and chosen.isdigit():
            # a global policy: replayed on a playbook of the user's teams (another
            # team's id, or garbage, is "choose the playbook")
            playbook = _whatif_playbooks(request.user).filter(pk=int(chosen)).first()
        return self._replay(
            request,
            playbook,
            lambda: draft_with_policies(
                [policy], playbook=playbook, label=f"draft of policy '{policy.name}'"
            ),
            title=title,
            subject=policy,
        )


class WhatIfPlaybookAdmin(WhatIfMixin, PlaybookAdmin):
    change_form_template = "admin/analytics/playbook_change_form.html"
    whatif_name = "playbook"

    def _draft_rows(self, request, obj) -> tuple[Any, list, list[tuple[str, str]]]:
        """The posted playbook's spec and policies, read from rows written inside a
        transaction that is rolled back (validated by the admin's own form and inlines)."""
        form = self.get_form(request, obj, change=True)(
            _posted(request), request.FILES, instance=obj
        )
        valid = form.is_valid()
        new_object = self.save_form(request, form, change=True) if valid else obj
        formsets, _ = self._create_formsets(request, new_object, change=True)
        if not (all_valid(formsets) and valid):
            return None, [], _form_errors(form, formsets)
        with transaction.atomic():
            new_object.save()
            for formset in formsets:
                formset.save()
            spec = playbook_spec(new_object)
            policies = list(
                Policy.objects.filter(
                    playbook=new_object, scope__in=[PolicyScope.PLAYBOOK, PolicyScope.ROLE]
                )
            )
            transaction.set_rollback(True)
        return spec, policies, []

    def whatif_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse("Use the What-if button on the playbook form.", status=405)
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_change_permission(request, obj):
            raise PermissionDenied("What-if needs the permission to change this playbook.")
        title = f"What-if: draft of {obj.name}"
        spec, policies, errors = self._draft_rows(request, obj)
        obj.refresh_from_db()  # the form changed the instance in memory
        if errors:
            return self._render(request, title=title, draft_errors=errors, subject=obj)
        return self._replay(
            request,
            obj,
            lambda: draft_from_spec(spec, policies, playbook=obj, label="unsaved draft"),
            title=title,
            subject=obj,
        )


for model, model_admin in ((Policy, WhatIfPolicyAdmin), (Playbook, WhatIfPlaybookAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
