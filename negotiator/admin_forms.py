"""Admin forms for policies: one set of labelled fields per policy kind, with issue,
fixed-term and private-value pickers taken from the playbook, a JSON view that
round-trips, and the change note every save asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from negotiator.engine.policies import fmt_number
from negotiator.forms import BoundedJSONField
from negotiator.models import Playbook, Policy, PolicyKindChoice, PolicyScope
from negotiator.services.playbooks import playbook_spec
from negotiator.services.policies import policy_errors


@dataclass(frozen=True)
class Param:
    """One parameter of one policy kind, as a form field."""

    key: str
    label: str
    widget: str  # numeric_issue · option_issue · number · text · options · term · keys · measure · code · flag
    required: bool = True
    help: str = ""


KIND_PARAMS: dict[str, tuple[Param, ...]] = {
    "cap": (
        Param("issue", "Issue", "numeric_issue"),
        Param("max", "Maximum", "number", help="The highest value an offer may carry."),
    ),
    "floor": (
        Param("issue", "Issue", "numeric_issue"),
        Param("min", "Minimum", "number", help="The lowest value an offer may carry."),
    ),
    "range": (
        Param("issue", "Issue", "numeric_issue"),
        Param("min", "From", "number", help="Lowest allowed value."),
        Param("max", "To", "number", help="Highest allowed value."),
    ),
    "allowed_values": (
        Param("issue", "Issue", "option_issue"),
        Param("values", "Allowed options", "options", help="Tick every option an offer may use."),
    ),
    "min_margin": (
        Param("issue", "Price issue", "numeric_issue"),
        Param(
            "cost_key",
            "Private cost",
            "text",
            help="The private value in the sender's profile the margin is measured over, "
            "e.g. unit_cost.",
        ),
        Param("min_percent", "Minimum margin (%)", "number", help="e.g. 12 for 12% over cost."),
    ),
    "sla": (
        Param("issue", "Issue", "numeric_issue"),
        Param("max", "At most", "number", required=False, help="e.g. 30 for within 30 days."),
        Param("min", "At least", "number", required=False, help="Optional lower bound."),
    ),
    "required_fixed_term": (
        Param("term", "Fixed term", "term"),
        Param(
            "value",
            "Required value",
            "text",
            required=False,
            help="Empty: the term must only be present.",
        ),
    ),
    "disclosure": (
        Param("keys", "Private values to protect", "keys"),
        Param(
            "tolerance_percent",
            "Tolerance (%)",
            "number",
            required=False,
            help="A number within this many percent of a private value counts as revealing "
            "it (0 to 50; default 1).",
        ),
        Param(
            "include_numeric_terms",
            "Check numeric terms too",
            "flag",
            required=False,
            help="Also flag an offered term that equals a private value (off by default).",
        ),
    ),
    "approval_threshold": (
        Param("measure", "Measure", "measure"),
        Param(
            "above",
            "Needs approval above",
            "number",
            help="Deal value in the playbook's currency, or risk between 0 and 1.",
        ),
    ),
    "expression": (
        Param(
            "expression",
            "Rule (CEL)",
            "code",
            help="True means the offer passes. Variables: terms, fixed, role, deal.value, "
            "deal.risk, stage, profile.private_values.",
        ),
        Param(
            "message",
            "Message when it fails",
            "text",
            required=False,
            help="Shown in checks and to approvers.",
        ),
    ),
}

RULE_EXAMPLES = (
    ("Price within budget", "terms.price <= 100000.0"),
    (
        "Fast delivery or long warranty",
        "terms.delivery_days <= 20.0 || terms.warranty_months >= 12.0",
    ),
    ("Gold tier above a deal value", 'deal.value <= 50000.0 || terms.sla_tier == "gold"'),
    ("Margin over a private cost", "terms.price >= profile.private_values.unit_cost * 1.1"),
)


def field_name(kind: str, key: str) -> str:
    return f"p_{kind}_{key}"


@dataclass(frozen=True)
class PlaybookContext:
    """What the pickers offer: issues, fixed terms, roles and private value names."""

    issues: list[dict[str, Any]]
    fixed_terms: dict[str, Any]
    roles: list[str]
    private_keys: list[str]
    currency: str


def playbook_context(playbook: Playbook | None) -> PlaybookContext:
    """The playbook's published spec (its rows if never published); every playbook's
    for a policy on all of them."""
    if playbook is not None:
        specs = [
            playbook.current_version.spec
            if playbook.current_version_id
            else playbook_spec(playbook)
        ]
    else:
        specs = [
            p.current_version.spec
            for p in Playbook.objects.exclude(current_version=None).select_related(
                "current_version"
            )
        ]
    issues: dict[str, dict[str, Any]] = {}
    fixed: dict[str, Any] = {}
    roles: list[str] = []
    keys: set[str] = {"reservation"}
    for spec in specs:
        for item in spec.get("issues", []):
            issues.setdefault(item["name"], item)
        fixed.update(spec.get("fixed_terms", {}))
        for role in spec.get("roles", []):
            if role["name"] not in roles:
                roles.append(role["name"])
            keys.update((role.get("profile") or {}).get("private_values", {}) or {})
    currency = specs[0].get("currency", "USD") if len(specs) == 1 else ""
    return PlaybookContext(list(issues.values()), fixed, roles, sorted(keys), currency)


def issue_label(item: dict[str, Any]) -> str:
    label = item.get("label") or item["name"]
    if item.get("type", "numeric") == "numeric":
        unit = f"{item['unit']}, " if item.get("unit") else ""
        span = f"{fmt_number(item.get('lower'))} to {fmt_number(item.get('upper'))}"
        return f"{label} ({unit}{span})"
    return f"{label} ({', '.join(map(str, item.get('options', [])))})"


def _units_help(ctx: PlaybookContext) -> str:
    numeric = [i for i in ctx.issues if i.get("type", "numeric") == "numeric"]
    parts = [f"{i['name']} in {i.get('unit') or 'units'}" for i in numeric]
    return ("In the issue's unit: " + " · ".join(parts) + ".") if parts else ""


def _param_field(param: Param, ctx: PlaybookContext, kind: str) -> forms.Field:
    numeric = [
        (i["name"], issue_label(i)) for i in ctx.issues if i.get("type", "numeric") == "numeric"
    ]
    optioned = [
        (i["name"], issue_label(i)) for i in ctx.issues if i.get("type", "numeric") != "numeric"
    ]
    common = {"label": param.label, "required": False, "help_text": param.help}
    if param.widget == "numeric_issue":
        return forms.ChoiceField(choices=[("", "Choose an issue…"), *numeric], **common)
    if param.widget == "option_issue":
        return forms.ChoiceField(choices=[("", "Choose an issue…"), *optioned], **common)
    if param.widget == "number":
        help_text = param.help
        if kind in ("cap", "floor", "range", "sla"):
            help_text = f"{param.help} {_units_help(ctx)}".strip()
        if kind == "approval_threshold" and ctx.currency:
            help_text = f"{param.help} (currency: {ctx.currency})"
        return forms.FloatField(**(common | {"help_text": help_text}))
    if param.widget == "options":
        options = sorted({str(o) for i in ctx.issues for o in i.get("options", [])})
        return forms.MultipleChoiceField(
            choices=[(o, o) for o in options], widget=forms.CheckboxSelectMultiple, **common
        )
    if param.widget == "term":
        terms = [(name, f"{name} = {value}") for name, value in ctx.fixed_terms.items()]
        return forms.ChoiceField(choices=[("", "Choose a fixed term…"), *terms], **common)
    if param.widget == "keys":
        return forms.MultipleChoiceField(
            choices=[(k, k) for k in ctx.private_keys],
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if param.widget == "measure":
        return forms.ChoiceField(
            choices=[("", "Choose…"), ("value", "Deal value"), ("risk", "Deal risk (0 to 1)")],
            **common,
        )
    if param.widget == "code":
        return forms.CharField(
            widget=forms.Textarea(attrs={"rows": 4, "class": "code-box", "spellcheck": "false"}),
            max_length=4000,
            **common,
        )
    if param.widget == "flag":
        return forms.BooleanField(**common)
    return forms.CharField(max_length=500, **common)


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


class PolicyForm(forms.ModelForm):
    """A policy by its kind's fields; the JSON view is the advanced alternative."""

    editor = forms.ChoiceField(
        choices=[("form", "Fields"), ("json", "JSON (advanced)")],
        initial="form",
        required=False,
        widget=forms.RadioSelect,
        label="Edit parameters as",
        help_text="Both views hold the same parameters; the one chosen here is saved.",
    )
    change_note = forms.CharField(
        max_length=200,
        required=False,
        label="Change note",
        help_text="Why you make this change, in a few words: it is shown in the version list.",
    )

    class Meta:
        model = Policy
        fields = [
            "name",
            "description",
            "category",
            "scope",
            "playbook",
            "role_name",
            "kind",
            "parameters",
            "severity",
            "active",
        ]
        field_classes = {"parameters": BoundedJSONField}
        labels = {"parameters": "Parameters (JSON)", "role_name": "Role"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parameters"].required = False
        self.fields["parameters"].widget.attrs.update({"rows": 6, "class": "code-box"})
        self.context = playbook_context(self._playbook())
        self.fields["role_name"] = forms.ChoiceField(
            label="Role",
            required=False,
            choices=[("", "—")] + [(r, r) for r in self.context.roles],
            help_text="For a policy on one role: the role whose offers it checks.",
        )
        for kind, params in KIND_PARAMS.items():
            for param in params:
                self.fields[field_name(kind, param.key)] = _param_field(param, self.context, kind)
        parameters = self.instance.parameters if self.instance.pk else None
        if isinstance(parameters, dict) and self.instance.kind in KIND_PARAMS:
            for key, value in parameters.items():
                name = field_name(self.instance.kind, key)
                if name in self.fields:
                    self.initial.setdefault(name, value)

    def _playbook(self) -> Playbook | None:
        raw = self.data.get("playbook") if self.is_bound else None
        if raw:
            return Playbook.objects.filter(pk=raw if str(raw).isdigit() else None).first()
        if self.is_bound:
            return None
        return self.instance.playbook if self.instance.playbook_id else None

    @staticmethod
    def kind_fieldsets() -> list[tuple[str, list[str], str]]:
        return [
            (kind, [field_name(kind, p.key) for p in params], PolicyKindChoice(kind).label)
            for kind, params in KIND_PARAMS.items()
        ]

    def parameters_from_fields(self, kind: str) -> dict[str, Any]:
        """The kind's parameters from its fields; a missing required one is a field error."""
        out: dict[str, Any] = {}
        for param in KIND_PARAMS.get(kind, ()):
            name = field_name(kind, param.key)
            value = self.cleaned_data.get(name)
            if value in (None, "", []) or (param.widget == "flag" and not value):
                if param.required:
                    self.add_error(name, f"Required for {PolicyKindChoice(kind).label.lower()}.")
                continue
            out[param.key] = _plain(value) if isinstance(value, float) else value
        return out

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind", "")
        if not data.get("editor"):
            # A post without the view choice (a script, an older page) uses the
            # fields only if it sent some.
            sent_fields = any(key.startswith("p_") for key in self.data)
            data["editor"] = "form" if sent_fields else "json"
        if data["editor"] == "form" and kind in KIND_PARAMS:
            self._errors.pop("parameters", None)
            data["parameters"] = self.parameters_from_fields(kind)
        if self.instance.pk and self.has_changed() and not (data.get("change_note") or "").strip():
            self.add_error("change_note", "Say in a few words why you change this policy.")
        if self.errors:
            return data
        self._validate(data)
        return data

    def _validate(self, data: dict[str, Any]) -> None:
        candidate = Policy(
            pk=self.instance.pk,
            name=data.get("name", ""),
            category=data.get("category", ""),
            scope=data.get("scope", PolicyScope.ALL),
            playbook=data.get("playbook"),
            role_name=data.get("role_name", ""),
            negotiation=self.instance.negotiation if self.instance.pk else None,
            kind=data.get("kind", ""),
            parameters=data.get("parameters"),
            severity=data.get("severity", ""),
            active=data.get("active", True),
        )
        if candidate.scope == PolicyScope.ALL and candidate.playbook is not None:
            self.add_error("playbook", "A policy for every playbook names no playbook.")
            return
        by_fields = data.get("editor", "form") == "form"
        for where, message in policy_errors(candidate):
            field = where.split(".", 1)[0].split("[", 1)[0]
            if where.startswith("parameters.") and by_fields:
                key = where.split(".", 1)[1].split("[", 1)[0]
                candidate_field = field_name(candidate.kind, key)
                field = candidate_field if candidate_field in self.fields else "parameters"
            elif field not in self.fields:
                field = "parameters"
            self.add_error(field, f"{where}: {message}")

    def has_changed(self) -> bool:
        return any(name != "change_note" for name in self.changed_data)
