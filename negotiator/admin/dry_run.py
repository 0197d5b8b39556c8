"""The policy dry run: evaluate policy versions (in force or drafts) against a pasted
offer or the recorded offers of a negotiation, writing nothing."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from negotiator import playbook_io
from negotiator.engine import policies as engine_policies
from negotiator.engine.offers import Offer as EngineOffer
from negotiator.engine.outcomes import fixed_terms_hash
from negotiator.models import Negotiation, PolicyVersion
from negotiator.selectors.visibility import negotiations_visible_to
from negotiator.services.plans import deal_measure
from negotiator.services.policies import policy_spec_of


class DryRunForm(forms.Form):
    offer_json = forms.CharField(
        label="Offer JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text='e.g. {"sender": "seller", "terms": {"price": 88000}, "rationale": "…"}',
    )
    negotiation = forms.ModelChoiceField(
        queryset=Negotiation.objects.none(),
        required=False,
        help_text="Or evaluate against every offer of this negotiation.",
    )

    def __init__(self, data=None, *, user, negotiations=None) -> None:
        """Only negotiations the user may see are offered (their offers are shown);
        ``negotiations`` narrows further (one playbook's)."""
        super().__init__(data)
        visible = negotiations_visible_to(user)
        if negotiations is not None:
            visible = visible.filter(pk__in=negotiations.values("pk"))
        self.fields["negotiation"].queryset = visible.select_related("playbook").order_by("-pk")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        raw = (data.get("offer_json") or "").strip()
        if not raw and not data.get("negotiation"):
            raise ValidationError("Paste an offer or choose a negotiation.")
        if raw:
            try:
                offer = playbook_io.json_text_parse(raw)
            except playbook_io.PlaybookImportError as exc:
                where, message = exc.errors[0]
                raise ValidationError(
                    f"The offer is not usable JSON: {where}: {message}."
                ) from None
            if not isinstance(offer, dict) or not isinstance(offer.get("terms"), dict):
                raise ValidationError('The offer must be an object with a "terms" object.')
            data["offer"] = offer
        return data


def dry_run(
    versions: list[PolicyVersion],
    offer: dict[str, Any] | None,
    negotiation: Negotiation | None,
    *,
    spec: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Evaluate policy versions (in force or drafts) against a pasted offer or a
    negotiation's recorded offers; ``spec`` stands in for the playbook (a playbook
    draft). Nothing is written."""
    specs = [policy_spec_of(v) for v in versions]
    override = spec
    cases: list[tuple[str, dict[str, Any], str, str, dict[str, Any], dict[str, Any]]] = []
    if offer is not None:
        playbook = next((v.playbook for v in versions if v.playbook_id), None)
        spec = playbook.current_version.spec if playbook and playbook.current_version_id else {}
        if negotiation is not None:
            spec = negotiation.playbook_version.spec
        spec = override or spec
        sender = str(offer.get("sender", ""))
        role = next((r for r in spec.get("roles", []) if r["name"] == sender), None)
        cases.append(
            (
                "pasted offer",
                offer["terms"],
                sender,
                str(offer.get("rationale", "")),
                role["profile"] if role else {},
                spec,
            )
        )
    elif negotiation is not None:
        spec = override or negotiation.playbook_version.spec
        profiles = {p.role: p.profile for p in negotiation.participants.all()}
        for row in negotiation.offers.order_by("id"):
            if not row.terms:
                continue
            cases.append(
                (
                    f"round {row.round} · {row.sender} · {row.performative}",
                    row.terms,
                    row.sender,
                    row.rationale,
                    profiles.get(row.sender, {}),
                    spec,
                )
            )
    rows = []
    for label, terms, sender, rationale, profile, spec in cases:
        fixed = dict(spec.get("fixed_terms", {}))
        engine_offer = EngineOffer(
            performative="propose",
            sender=sender or "?",
            terms=terms,
            fixed_terms_hash=fixed_terms_hash(fixed),
            round=0,
            rationale=rationale,
        )
        context = engine_policies.CheckContext(
            fixed_terms=fixed,
            sender_role=sender,
            sender_profile=profile,
            deal_value=deal_measure(spec.get("value_expression", ""), terms),
            deal_risk=deal_measure(spec.get("risk_expression", ""), terms),
            stage="send",
            issue_types={i["name"]: i.get("type", "numeric") for i in spec.get("issues", [])},
        )
        for result in engine_policies.check(engine_offer, specs, context):
            rows.append(
                {
                    "case": label,
                    "terms": terms,
                    "result": result,
                    "evidence": json.dumps(
                        engine_policies.check_result_to_dict(result)["evidence"], indent=1
                    ),
                }
            )
    return rows
