// The portal (an outside person's page). No inline script: the Content-Security-
// Policy forbids it. Three small things, keyed by data- attributes.
(function () {
  "use strict";

  // <button data-confirm="…">: ask before a move that cannot be undone.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  // <form data-once>: one click sends once. The pressed button's value is kept
  // (a disabled button is not submitted), then every button is disabled. The
  // server is idempotent anyway (the form's message id); this saves the wait.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-once") || event.defaultPrevented) return;
    var submitter = event.submitter;
    if (submitter && submitter.name) {
      var keep = document.createElement("input");
      keep.type = "hidden";
      keep.name = submitter.name;
      keep.value = submitter.value;
      form.appendChild(keep);
    }
    setTimeout(function () {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      if (submitter) submitter.textContent = "Sending…";
    }, 0);
  });

  // <textarea data-count="id">: characters used, next to the limit.
  function count(area) {
    var out = document.getElementById(area.getAttribute("data-count"));
    var max = area.getAttribute("maxlength");
    if (out) out.textContent = area.value.length + (max ? " / " + max : "");
  }
  document.addEventListener("input", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-count")) count(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-count]").forEach(count);
  });
})();
