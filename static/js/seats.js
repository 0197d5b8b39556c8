// Outside seats on the operators' pages (no inline script: the CSP forbids it).
(function () {
  "use strict";
  if (window.__negotiatorSeats) return;
  window.__negotiatorSeats = true;

  // New negotiation: a row whose seat is outside shows the invitee's fields
  // (person) and greys out the strategy, which an outside seat does not use.
  function sync(select) {
    var row = select.closest("[data-seat-row]");
    if (!row) return;
    row.classList.toggle("is-outside", select.value !== "builtin");
    var invitee = row.querySelector("[data-invitee]");
    if (invitee) invitee.hidden = select.value !== "person";
  }
  function syncAll() {
    document.querySelectorAll("select[data-seat-select]").forEach(sync);
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-seat-select]")) sync(event.target);
  });
  document.addEventListener("DOMContentLoaded", syncAll);
  document.addEventListener("htmx:afterSettle", syncAll);

  // <button data-copy="element id">: copy a secret shown once.
  function copied(button, ok) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = ok ? "Copied" : "Select and copy";
    setTimeout(function () { button.textContent = label; }, 2000);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { copied(button, true); },
        function () { copied(button, document.execCommand("copy")); }
      );
    } else {
      copied(button, document.execCommand("copy"));
    }
  });
})();
