"""The outcomes filters as a form: a bad value is a clear error, never a 500."""

from __future__ import annotations

from django import forms

from analytics.selectors.outcomes import OutcomeFilters
from negotiator.models import Pattern


class OutcomeFilterForm(forms.Form):
    playbook = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    pattern = forms.ChoiceField(choices=[("", "Any pattern"), *Pattern.choices], required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, playbooks: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["playbook"].choices = [("", "Any playbook"), *playbooks]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The period's start is after its end.")
        return data

    def filters(self) -> OutcomeFilters:
        """Call after is_valid(); unbound means no filter."""
        data = self.cleaned_data if self.is_bound else {}
        return OutcomeFilters(
            playbook=data.get("playbook"),
            start=data.get("start"),
            end=data.get("end"),
            pattern=data.get("pattern") or "",
        )
