// Negotiator: small progressive enhancements (no framework, no CDN).
// Deadline countdowns: <span class="countdown" data-deadline="ISO-8601">.
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
