"""The portal's one form: a person's move. It only parses what was typed (a
number is a number); whether a move is allowed (ranges, steps, options, fixed
terms, our policies) is decided by seat_move_submit, exactly as for every other
outside move, and its problems are shown next to the fields they name."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django import forms

from negotiator.selectors.portal import IssueField
from negotiator.services.seats import MAX_RATIONALE

ACTIONS = {
    "counter": "Send counteroffer",
    "accept": "Accept this offer",
    "reject": "Reject this offer",
    "withdraw": "End the negotiation",
}
MESSAGE_ID = re.compile(r"^[0-9a-f]{32}$")


def term_field(name: str) -> str:
    return f"term_{name}"


class PortalMoveForm(forms.Form):
    action = forms.ChoiceField(choices=list(ACTIONS.items()))
    message = forms.CharField(
        required=False,
        max_length=MAX_RATIONALE,
        strip=True,
        widget=forms.Textarea,
        label="Message (optional)",
    )
    # One per rendered form: the same form posted twice (a double click, the
    # back button, a resent request) is one move.
    message_id = forms.RegexField(regex=MESSAGE_ID, widget=forms.HiddenInput)
    # The offer the person saw on the table; a stale page is refused, not applied
    # to a newer offer.
    on_table = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, issues: Sequence[IssueField], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.issues = list(issues)
        for issue in self.issues:
            if issue.kind == "numeric":
                field: forms.Field = forms.FloatField(required=False, label=issue.label)
            else:
                field = forms.CharField(required=False, max_length=200, label=issue.label)
            self.fields[term_field(issue.name)] = field

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "counter":
            for issue in self.issues:
                name = term_field(issue.name)
                if data.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, f"Enter the {issue.label.lower()} you offer.")
        return data

    def terms(self) -> dict[str, int | float | str]:
        """The offered terms: whole numbers as integers, as offers store them."""
        out: dict[str, int | float | str] = {}
        for issue in self.issues:
            value = self.cleaned_data.get(term_field(issue.name))
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            out[issue.name] = value
        return out

    def show_problems(self, problems: Iterable[str]) -> None:
        """The service's problems, each next to the issue it names (as 'name');
        the rest above the form. A field's message is the rule from the playbook
        the person can act on."""
        by_name = {issue.name: issue for issue in self.issues}
        for problem in problems:
            named = [n for n in by_name if f"'{n}'" in problem]
            if not named:
                self.add_error(None, problem)
            for name in named:
                issue = by_name[name]
                if issue.kind == "numeric":
                    rule = f"Use a value from {issue.hint}."
                else:
                    rule = "Choose one of the options."
                if term_field(name) not in self.errors:
                    self.add_error(term_field(name), rule)


class FreeTextForm(forms.Form):
    """A person's offer in their own words, for the model to read into the form
    above (shown only while a model is configured; nothing is sent from it)."""

    free_text = forms.CharField(
        max_length=2000,
        strip=True,
        widget=forms.Textarea,
        label="Describe your offer in your own words",
    )
