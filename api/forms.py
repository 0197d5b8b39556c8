"""The API tokens page's forms."""

from __future__ import annotations

from django import forms

from api.services.tokens import DEFAULT_DAYS, MAX_DAYS


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What will use it, e.g. “ERP sync” (shown in lists)."
    )
    days = forms.IntegerField(
        min_value=1,
        max_value=MAX_DAYS,
        initial=DEFAULT_DAYS,
        label="Valid for (days)",
        help_text=f"1 to {MAX_DAYS} days; make a new one before it expires.",
    )


class RevokeForm(forms.Form):
    token = forms.IntegerField(min_value=1)
