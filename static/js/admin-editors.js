// Admin editors: the live share of each criterion weight in the profile editor, and
// keeping a policy's kind fields and its JSON view in step when switching views.
// Loaded as a static file: the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  function updateShares(table) {
    const inputs = table.querySelectorAll(".weight-input");
    let total = 0;
    inputs.forEach((input) => { const v = parseFloat(input.value); if (v > 0) total += v; });
    inputs.forEach((input) => {
      const cell = input.closest("tr").querySelector(".weight-share");
      const v = parseFloat(input.value);
      cell.textContent = total > 0 && v >= 0 ? Math.round((v / total) * 100) + "%" : "";
    });
  }

  document.addEventListener("input", (event) => {
    if (event.target.classList && event.target.classList.contains("weight-input")) {
      updateShares(event.target.closest("table"));
    }
  });

  // Policy form: fields -> JSON when the JSON view is chosen, JSON -> fields back.
  function kindPrefix() {
    const kind = document.getElementById("id_kind");
    return kind ? "p_" + kind.value + "_" : null;
  }

  function fieldsToJson() {
    const prefix = kindPrefix();
    const box = document.getElementById("id_parameters");
    if (!prefix || !box) return;
    const out = {};
    document.querySelectorAll("[name^='" + prefix + "']").forEach((el) => {
      const key = el.name.slice(prefix.length);
      if (el.type === "checkbox") {
        const group = document.querySelectorAll("input[name='" + el.name + "']");
        if (group.length > 1 || el.value !== "on") {
          const ticked = Array.from(group).filter((b) => b.checked).map((b) => b.value);
          if (ticked.length) out[key] = ticked;
        } else if (el.checked) {
          out[key] = true;
        }
        return;
      }
      if (el.value === "") return;
      const n = Number(el.value);
      out[key] = el.type === "number" && !Number.isNaN(n) ? n : el.value;
    });
    box.value = JSON.stringify(out, null, 1);
  }

  function jsonToFields() {
    const prefix = kindPrefix();
    const box = document.getElementById("id_parameters");
    if (!prefix || !box) return;
    let data;
    try { data = JSON.parse(box.value || "{}"); } catch (e) { return; }
    Object.entries(data).forEach(([key, value]) => {
      document.querySelectorAll("[name='" + prefix + key + "']").forEach((el) => {
        if (el.type === "checkbox") {
          el.checked = Array.isArray(value) ? value.includes(el.value) : Boolean(value);
        } else {
          el.value = value;
        }
      });
    });
  }

  document.addEventListener("change", (event) => {
    const el = event.target;
    if (el.name === "editor") {
      if (el.value === "json") fieldsToJson(); else jsonToFields();
    }
  });
})();
