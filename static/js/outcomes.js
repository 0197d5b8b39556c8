// The outcomes page's charts: Chart.js (static/vendor/chartjs) fed by the
// json_script block #outcomes-data. No inline script (CSP).
(function () {
  "use strict";
  const source = document.getElementById("outcomes-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const css = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => (css.getPropertyValue(name) || "").trim() || fallback;
  const primary = colour("--primary", "#2563eb");
  const ok = colour("--ok", "#15803d");
  const warn = colour("--warn", "#b45309");
  const muted = colour("--muted", "#6b7280");
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  function bar(id, labels, values, options) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    const opts = options || {};
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: [{
          label: opts.label || "",
          data: values,
          backgroundColor: opts.colours || values.map((v) => (v !== null && v < 0 ? warn : primary)),
        }],
      },
      options: {
        indexAxis: opts.horizontal ? "y" : "x",
        plugins: { legend: { display: false } },
        scales: {
          [opts.horizontal ? "x" : "y"]: {
            beginAtZero: true,
            suggestedMax: opts.max,
            title: { display: !!opts.unit, text: opts.unit || "" },
          },
        },
      },
    });
  }

  bar("chart-savings", data.savings.labels, data.savings.values, { unit: "% saved" });
  const agreement = document.getElementById("chart-agreement");
  if (agreement) {
    new Chart(agreement, {
      type: "doughnut",
      data: {
        labels: ["agreed", "no agreement"],
        datasets: [{ data: [data.agreement.agreed, data.agreement.not_agreed], backgroundColor: [ok, muted] }],
      },
      options: { plugins: { legend: { position: "bottom" } } },
    });
  }
  bar("chart-rounds", data.rounds.labels, data.rounds.values, { unit: "agreements" });
  bar("chart-cycle", data.cycle.labels, data.cycle.values, { unit: "minutes" });
  bar("chart-quality", data.quality.labels, data.quality.values, { unit: "score", max: 1, colours: ok });
  bar("chart-causes", data.causes.labels, data.causes.values, { unit: "negotiations", horizontal: true, colours: warn });
  const weeks = document.getElementById("chart-weeks");
  if (weeks) {
    new Chart(weeks, {
      data: {
        labels: data.weeks.labels,
        datasets: [
          { type: "bar", label: "negotiations", data: data.weeks.negotiations, backgroundColor: muted, yAxisID: "count", order: 1 },
          { type: "line", label: "agreement rate (%)", data: data.weeks.agreement_rate, borderColor: ok, backgroundColor: ok, pointRadius: 5, yAxisID: "rate", order: 0 },
        ],
      },
      options: {
        plugins: { legend: { position: "bottom" } },
        scales: {
          count: { position: "left", beginAtZero: true, title: { display: true, text: "negotiations" } },
          rate: { position: "right", min: 0, max: 100, title: { display: true, text: "% agreed" }, grid: { drawOnChartArea: false } },
        },
      },
    });
  }
  bar("chart-approval", data.approval.labels, data.approval.values, { unit: "minutes" });
})();
