from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from approvals.models import DecisionKind
from approvals.selectors import INBOX_SORTS, PERIODS, STATUS_FILTERS


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=DecisionKind.choices)
    comment = forms.CharField(required=False, max_length=4000, widget=forms.Textarea)
    constraints = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional, one a line: price <= 95,000 · delivery_days < 20 · sla_tier in [gold]",
    )


class InboxFilterForm(forms.Form):
    """Lenient: a bad value falls back to the default instead of failing the page."""

    status = forms.ChoiceField(choices=[(s, s) for s in STATUS_FILTERS], required=False)
    route = forms.IntegerField(required=False, min_value=1)
    playbook = forms.IntegerField(required=False, min_value=1)
    days = forms.TypedChoiceField(
        choices=[(str(d), f"{d} days") for d in PERIODS], coerce=int, required=False
    )
    q = forms.CharField(required=False, max_length=100, strip=True)
    sort = forms.ChoiceField(
        choices=[(f"{sign}{key}", key) for key in INBOX_SORTS for sign in ("", "-")],
        required=False,
    )

    def value(self, name: str, default):
        if not self.is_bound or not self.is_valid() and name in self.errors:
            return default
        return self.cleaned_data.get(name) or default


class DelegationForm(forms.Form):
    delegate = forms.CharField(max_length=150, help_text="Your colleague's username.")
    starts_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    note = forms.CharField(max_length=200, required=False)

    def clean_delegate(self):
        name = self.cleaned_data["delegate"].strip()
        user = get_user_model().objects.filter(username=name, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"There is no active user called '{name}'.")
        return user


class BulkDecisionForm(forms.Form):
    """Approve or reject several requests at once; each is still decided (and
    four-eyes checked and audited) on its own by approval_decide."""

    requests = forms.TypedMultipleChoiceField(coerce=int, choices=[])
    decision = forms.ChoiceField(
        choices=[(DecisionKind.APPROVE, "Approve"), (DecisionKind.REJECT, "Reject")]
    )
    comment = forms.CharField(required=False, max_length=4000)

    def __init__(self, *args, visible: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["requests"].choices = [(pk, str(pk)) for pk in visible]
        self.fields["requests"].error_messages["invalid_choice"] = "There is no request %(value)s."
        self.fields["requests"].error_messages["required"] = "Select at least one request."

    def clean(self):
        data = super().clean()
        if data.get("decision") == DecisionKind.REJECT and not data.get("comment", "").strip():
            self.add_error("comment", "Say why you are rejecting: every request gets this comment.")
        return data
