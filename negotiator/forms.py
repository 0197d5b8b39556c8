"""Forms for the dashboard: list filters, the new-negotiation form, resume and close."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.forms.fields import InvalidJSONInput
from django.http import QueryDict

from negotiator import playbook_io
from negotiator.llm.config import LLM_STRATEGY, LLM_STRATEGY_HELP, llm_enabled
from negotiator.models import NegotiationStatus, Playbook, SeatKind
from negotiator.selectors.lists import SORTS, ListFilters
from negotiator.selectors.strategies import strategy_choices
from negotiator.services.invites import Invitee


class BoundedJSONField(forms.JSONField):
    """A JSON form field that refuses what would break later (deep nesting, NaN,
    infinities, numbers out of range, NUL characters) with the path of the
    problem, instead of failing while parsing."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip() and not self.disabled:
            try:
                playbook_io.json_text_parse(value)
            except playbook_io.PlaybookImportError as exc:
                raise forms.ValidationError(
                    "; ".join(f"{where}: {message}" for where, message in exc.errors[:3])
                ) from None
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Re-showing the form parses the text again: keep what was refused as text.
        if isinstance(data, str) and not self.disabled:
            try:
                playbook_io.json_text_parse(data)
            except playbook_io.PlaybookImportError:
                return InvalidJSONInput(data)
        return super().bound_data(data, initial)

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return super().has_changed(initial, data)
        except forms.ValidationError:
            return True


class ListFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "All"), *NegotiationStatus.choices])
    q = forms.CharField(required=False, max_length=100, strip=True)
    sort = forms.ChoiceField(
        required=False, choices=[(k, label) for k, (label, _) in SORTS.items()]
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def filters(self) -> ListFilters:
        """The valid parameters; a bad one is ignored rather than failing the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return ListFilters(
            status=data.get("status") or "",
            q=data.get("q") or "",
            sort=data.get("sort") or "newest",
            page=data.get("page") or 1,
        )


def list_filters_from(query: QueryDict) -> ListFilters:
    return ListFilterForm(query).filters()


class NegotiationForm(forms.Form):
    playbook = forms.ModelChoiceField(
        queryset=Playbook.objects.none(),
        empty_label="Choose a playbook…",
        help_text="Only playbooks with a published version can be started.",
    )
    title = forms.CharField(
        required=False,
        max_length=200,
        help_text="Optional; defaults to the playbook's name. Outside counterparts see it.",
    )
    max_rounds = forms.IntegerField(
        required=False, min_value=1, max_value=10_000, label="Max rounds"
    )
    deadline_minutes = forms.IntegerField(
        required=False, min_value=1, max_value=60 * 24 * 30, label="Deadline (minutes)"
    )
    pace_seconds = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=float(settings.NEGOTIATOR_MAX_COUNTDOWN),
        label="Pace (seconds between rounds)",
    )

    def __init__(
        self,
        *args: Any,
        playbooks: QuerySet[Playbook],
        playbook: Playbook | None = None,
        **kwargs: Any,
    ) -> None:
        """`playbooks`: the ones this person may start from (their teams')."""
        super().__init__(*args, **kwargs)
        self.fields["playbook"].queryset = playbooks
        self.selected = playbook
        if playbook is None and self.is_bound:
            try:
                self.selected = self.fields["playbook"].clean(self.data.get("playbook"))
            except forms.ValidationError:
                self.selected = None
        self.roles: list[dict[str, Any]] = []
        self.limits: dict[str, Any] = {}
        if self.selected is not None and self.selected.current_version_id:
            spec = self.selected.current_version.spec
            self.limits = spec.get("limits", {})
            choices = strategy_choices()
            if llm_enabled():
                choices.append((LLM_STRATEGY, f"Language model picks — {LLM_STRATEGY_HELP}"))
            for role in spec.get("roles", []):
                name = f"strategy_{role['name']}"
                self.fields[name] = forms.ChoiceField(
                    choices=choices,
                    initial=role.get("strategy", "default"),
                    label=f"Strategy of {role.get('label') or role['name']}",
                )
                self.roles.append({**role, "field": name, **self._seat_fields(role)})
            for field_name in ("max_rounds", "deadline_minutes", "pace_seconds"):
                default = self.limits.get(field_name)
                if default is not None:
                    self.fields[field_name].widget.attrs["placeholder"] = f"{default:g}"
        self.fields["pace_seconds"].widget.attrs["step"] = "0.5"

    def _seat_fields(self, role: dict[str, Any]) -> dict[str, str]:
        """Who plays a role, when its playbook allows more than our strategy: a
        seat kind, and for an outside person their name and e-mail (the invite)."""
        allowed = [s for s in role.get("seats") or [SeatKind.BUILTIN] if s in SeatKind.values]
        if len(allowed) < 2:
            return {"seat_label": SeatKind(allowed[0]).label if allowed else ""}
        label = role.get("label") or role["name"]
        out = {"seat_field": f"seat_{role['name']}"}
        # Not required: a post without it (an older form, a script) keeps the default.
        self.fields[out["seat_field"]] = forms.ChoiceField(
            required=False,
            choices=[(s, SeatKind(s).label) for s in allowed],
            initial=SeatKind.BUILTIN if SeatKind.BUILTIN in allowed else allowed[0],
            label=f"Who plays {label}",
        )
        if SeatKind.PERSON in allowed:
            out["name_field"] = f"invitee_name_{role['name']}"
            out["email_field"] = f"invitee_email_{role['name']}"
            self.fields[out["name_field"]] = forms.CharField(
                required=False, max_length=120, label="Their name"
            )
            self.fields[out["email_field"]] = forms.EmailField(
                required=False, label="Their e-mail", help_text="The invite link is mailed here."
            )
        return out

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for role in self.roles:
            if data.get(role.get("seat_field", "")) != SeatKind.PERSON:
                continue
            for key, what in (("name_field", "name"), ("email_field", "e-mail address")):
                if not data.get(role[key]) and role[key] not in self.errors:
                    self.add_error(role[key], f"An outside person needs a {what} to be invited.")
        return data

    def role_fields(self) -> list[tuple[dict[str, Any], forms.BoundField]]:
        """(role, strategy field) per role; ``role["bound"]`` holds its seat fields."""
        return [
            ({**role, "bound": self.seat_fields(role)}, self[role["field"]]) for role in self.roles
        ]

    def seat_fields(self, role: dict[str, Any]) -> dict[str, forms.BoundField]:
        """The role's seat, name and e-mail fields (those it has) for the template."""
        return {
            key: self[role[key]]
            for key in ("seat_field", "name_field", "email_field")
            if key in role
        }

    def seats(self) -> dict[str, str]:
        """The roles given an outside seat."""
        out = {}
        for role in self.roles:
            seat = self.cleaned_data.get(role.get("seat_field", ""))
            if seat and seat != SeatKind.BUILTIN:
                out[role["name"]] = seat
        return out

    def invitees(self) -> dict[str, Invitee]:
        """The person invited to each outside person seat."""
        return {
            role["name"]: Invitee(
                name=self.cleaned_data.get(role["name_field"], ""),
                email=self.cleaned_data.get(role["email_field"], ""),
            )
            for role in self.roles
            if self.cleaned_data.get(role.get("seat_field", "")) == SeatKind.PERSON
        }

    def strategies(self) -> dict[str, str]:
        """Only the roles whose strategy differs from the playbook's default."""
        out = {}
        for role in self.roles:
            chosen = self.cleaned_data.get(role["field"])
            if chosen and chosen != role.get("strategy"):
                out[role["name"]] = chosen
        return out


class ResumeForm(forms.Form):
    extra_rounds = forms.IntegerField(
        min_value=0, max_value=10_000, initial=10, label="Extra rounds"
    )
    extra_minutes = forms.IntegerField(
        min_value=0, max_value=60 * 24 * 30, initial=30, label="Extra minutes"
    )


class CloseForm(forms.Form):
    reason = forms.CharField(
        required=False, max_length=500, label="Reason", help_text="Recorded in the audit trail."
    )


class CounterForm(forms.Form):
    """A person's counteroffer for our seat: one control per negotiable issue
    (a number within the issue's bounds, or one of its options). The engine then
    checks it like any offer (grid, fixed terms, policies)."""

    rationale = forms.CharField(
        required=False,
        max_length=2000,
        label="Message to the other side",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; checked like the agents' messages (nothing private may be disclosed).",
    )

    def __init__(
        self, *args: Any, issues: list[dict[str, Any]], terms: dict[str, Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.issue_names: list[str] = []
        fields: dict[str, forms.Field] = {}
        for issue in issues:
            name = f"term_{issue['name']}"
            label = issue.get("label") or issue["name"].replace("_", " ").capitalize()
            if issue.get("unit"):
                label = f"{label} ({issue['unit']})"
            if issue.get("type", "numeric") == "numeric":
                kind = forms.IntegerField if issue.get("integer") else forms.FloatField
                field = kind(min_value=issue["lower"], max_value=issue["upper"], label=label)
                if issue.get("step"):
                    field.widget.attrs["step"] = f"{issue['step']:g}"
            else:
                options = [(o, str(o).replace("_", " ")) for o in issue.get("options", [])]
                field = forms.ChoiceField(choices=options, label=label)
            field.initial = terms.get(issue["name"])
            fields[name] = field
            self.issue_names.append(issue["name"])
        # The terms first, the message last.
        self.fields = {**fields, "rationale": self.fields["rationale"]}

    def terms(self) -> dict[str, Any]:
        return {name: self.cleaned_data[f"term_{name}"] for name in self.issue_names}


class OverrideRequestForm(forms.Form):
    policy = forms.TypedChoiceField(coerce=int, label="Policy to override")
    justification = forms.CharField(
        min_length=10,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why this policy should not apply to this negotiation; a second person "
        "approves it before it takes effect.",
    )

    def __init__(self, *args: Any, policies: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = policies


class OverrideDecisionForm(forms.Form):
    override = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(required=False, max_length=4000)
