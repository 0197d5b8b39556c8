// Negotiator: small progressive enhancements (no framework, no CDN).
// Loaded from base.html on every page. The Content-Security-Policy forbids inline
// script and eval, so behaviour that used to live in attributes (hx-on, htmx
// trigger filters) lives here, keyed by data- attributes.
(function () {
  "use strict";
  function format(ms) {
    if (ms <= 0) return "passed";
    var s = Math.floor(ms / 1000);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    if (h > 0) return h + "h " + String(m).padStart(2, "0") + "m left";
    return m + "m " + String(sec).padStart(2, "0") + "s left";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var deadline = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(deadline)) return;
      var left = deadline - now;
      el.textContent = format(left);
      el.classList.toggle("countdown-soon", left > 0 && left < 5 * 60 * 1000);
      el.classList.toggle("countdown-passed", left <= 0);
    });
  }
  if (!window.__negotiatorCountdown) {
    window.__negotiatorCountdown = setInterval(tick, 1000);
    document.addEventListener("DOMContentLoaded", tick);
    document.addEventListener("htmx:afterSettle", tick);
  }
})();

// Polling only while the tab is visible: <div hx-trigger="every 2s" data-poll-when-visible>.
// (htmx's "[document.visibilityState === 'visible']" filter needs eval.)
(function () {
  "use strict";
  if (window.__negotiatorPolling) return;
  window.__negotiatorPolling = true;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.hasAttribute("data-poll-when-visible") && document.visibilityState !== "visible") {
      event.preventDefault();  // skip this tick; the next one asks again
    }
  });
})();

// Client errors (4xx) swap into a container marked data-swap-client-errors, so a
// form can show its own error message (a refused decision, a bad value).
(function () {
  "use strict";
  if (window.__negotiatorClientErrors) return;
  window.__negotiatorClientErrors = true;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var elt = event.detail.elt || event.target;
    if (status >= 400 && status < 500 && elt && elt.closest && elt.closest("[data-swap-client-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
