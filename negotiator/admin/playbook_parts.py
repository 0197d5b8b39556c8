"""The playbook change page's parts: issue rows (options one per line), fixed terms,
roles with their strategy and private profile, the read-only policy and version
lists, and the upload form for importing a playbook file."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from negotiator import playbook_io
from negotiator.admin.common import ReadOnlyAdminMixin
from negotiator.admin_profile import ProfileField
from negotiator.engine.preferences import profile_from_dict
from negotiator.engine.strategies import STRATEGIES, make_strategy
from negotiator.forms import BoundedJSONField
from negotiator.models import FixedTerm, Playbook, PlaybookIssue, PlaybookVersion, Policy, Role


class OptionsField(forms.CharField):
    """Options of a categorical or ordinal issue, one per line; a JSON list is read
    too (the advanced form, and what export writes)."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 18, "class": "options-box"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        kwargs["required"] = False
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        text = (super().to_python(value) or "").strip()
        if text.startswith("["):
            try:
                parsed = playbook_io.json_text_parse(text)
            except playbook_io.PlaybookImportError as exc:
                raise ValidationError(f"Not a JSON list: {exc.errors[0][1]}") from None
            if not isinstance(parsed, list):
                raise ValidationError("Not a JSON list.")
            return parsed
        return [line.strip() for line in text.splitlines() if line.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != list(initial or [])
        except ValidationError:
            return True


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
        field_classes = {"options": OptionsField}

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
                self.add_error("options", "List the options, one per line (e.g. gold, silver).")
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
        field_classes = {"strategy_params": BoundedJSONField, "profile": ProfileField}

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
    classes = ["roles-inline"]

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
        issues = [
            {"name": i.name, "label": i.label, "options": list(i.options or [])}
            for i in (obj.issues.all() if obj is not None else [])
        ]

        class WithIssues(formset.form):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.fields["profile"].widget.issues = issues

        formset.form = WithIssues
        return formset


class PolicyInline(admin.TabularInline):
    model = Policy
    fk_name = "playbook"
    extra = 0
    fields = ["name", "kind", "severity", "scope", "role_name", "active"]
    verbose_name_plural = "Policies of this playbook (edit each on its own page)"
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class PlaybookVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PlaybookVersion
    extra = 0
    fields = ["number", "is_draft", "note", "created_by", "created_at"]
    verbose_name_plural = "Versions (compare, restore and publish on the versions page)"
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
