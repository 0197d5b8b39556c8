"""The outcomes page and its CSV export. Parse the filters, read one report, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics.forms import OutcomeFilterForm
from analytics.selectors.export import outcome_csv_rows
from analytics.selectors.outcomes import negotiation_outcomes
from analytics.selectors.report import outcomes_report
from negotiator.csv_stream import csv_line_writer
from negotiator.selectors.visibility import playbooks_visible_to

# The page's cards and the figures each shows, in order.
FIGURE_GROUPS = {
    "savings": ("savings_ask", "savings_target", "savings_budget", "sla_adherence"),
    "agreement": ("agreement_rate", "rounds"),
    "cycle": ("cycle_agreement", "cycle_approval"),
    "approval": ("approval_median", "approval_p90", "approvals_reversed"),
}


def _form(request: HttpRequest) -> OutcomeFilterForm:
    playbooks = list(playbooks_visible_to(request.user).values_list("pk", "name"))
    return OutcomeFilterForm(request.GET or None, playbooks=playbooks)


@require_GET
def outcomes(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    if form.is_bound and not form.is_valid():
        return render(
            request, "analytics/outcomes.html", {"form": form, "nav_active": "outcomes"}, status=400
        )
    report = outcomes_report(user=request.user, filters=form.filters())
    context = {
        "form": form,
        "report": report,
        "figures": report.figures,
        "groups": {name: [report.figures[k] for k in keys] for name, keys in FIGURE_GROUPS.items()},
        "chart_data": report.chart_data(),
        "nav_active": "outcomes",
    }
    return render(request, "analytics/outcomes.html", context)


@require_GET
def outcomes_export(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    if form.is_bound and not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return HttpResponse(f"Bad filters: {errors}", status=400, content_type="text/plain")
    rows = negotiation_outcomes(user=request.user, filters=form.filters())
    writer = csv_line_writer()
    response = StreamingHttpResponse(
        (writer.writerow(line) for line in outcome_csv_rows(rows)), content_type="text/csv"
    )
    response["Content-Disposition"] = 'attachment; filename="outcomes.csv"'
    return response
