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

// django-htmx's debug helper (DEBUG only) replaces the whole document with any
// 400/403/404 response; a form that shows its own errors in place
// (data-swap-client-errors) must keep its page, so that event stops here, before
// it reaches the document-level helper. htmx itself carries on and swaps the panel.
(function () {
  "use strict";
  if (window.__negotiatorKeepPage) return;
  window.__negotiatorKeepPage = true;
  document.documentElement.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail && event.detail.xhr;
    var elt = event.detail && event.detail.elt;
    var status = xhr ? xhr.status : 0;
    if (status >= 400 && status < 500 && elt && elt.closest && elt.closest("[data-swap-client-errors]")) {
      event.stopPropagation();
    }
  });
})();

// The collapsible nav on narrow screens: the Menu button toggles .nav-open.
(function () {
  "use strict";
  function setup() {
    var button = document.querySelector("[data-nav-toggle]");
    if (!button || button.__bound) return;
    button.__bound = true;
    var nav = button.closest(".nav");
    button.addEventListener("click", function () {
      var open = !nav.classList.contains("nav-open");
      nav.classList.toggle("nav-open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();

// Saved filters (kept in this browser): a button data-save-filter="<key>" stores
// the current query string under a name; the container data-saved-filters="<key>"
// lists them as links, each with a remove button.
(function () {
  "use strict";
  function load(key) {
    try { return JSON.parse(localStorage.getItem("negotiator.filters." + key) || "[]"); }
    catch (e) { return []; }
  }
  function store(key, items) { localStorage.setItem("negotiator.filters." + key, JSON.stringify(items)); }
  function render(key) {
    var box = document.querySelector('[data-saved-filters="' + key + '"]');
    if (!box) return;
    var items = load(key);
    box.querySelectorAll(".saved-filter").forEach(function (el) { el.remove(); });
    items.forEach(function (item, index) {
      var span = document.createElement("span");
      span.className = "saved-filter";
      var link = document.createElement("a");
      link.href = location.pathname + (item.query ? "?" + item.query : "");
      link.textContent = item.name;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn-link";
      remove.setAttribute("aria-label", "Remove saved filter " + item.name);
      remove.textContent = "×";
      remove.addEventListener("click", function () {
        var now = load(key);
        now.splice(index, 1);
        store(key, now);
        render(key);
      });
      span.appendChild(link);
      span.appendChild(remove);
      box.appendChild(span);
    });
    box.hidden = items.length === 0;
  }
  function setup() {
    document.querySelectorAll("[data-save-filter]").forEach(function (button) {
      if (button.__bound) return;
      button.__bound = true;
      var key = button.getAttribute("data-save-filter");
      render(key);
      button.addEventListener("click", function () {
        var form = button.closest("form");
        var query = new URLSearchParams(new FormData(form));
        Array.from(query.keys()).forEach(function (k) { if (!query.get(k)) query.delete(k); });
        var name = window.prompt("Name this filter", query.get("q") || query.get("status") || "My filter");
        if (!name) return;
        var items = load(key).filter(function (item) { return item.name !== name; });
        items.push({ name: name.slice(0, 60), query: query.toString() });
        store(key, items);
        render(key);
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();

// Live timeline: offers are appended at the bottom (oldest first reads like a
// conversation). When offers arrive while the reader is further up, a sticky
// button counts them ("↓ 3 new offers") and jumps to the latest; when the reader
// is already at the bottom, the page follows the new offers instead.
(function () {
  "use strict";
  if (window.__negotiatorFollow) return;
  window.__negotiatorFollow = true;
  var unseen = 0;
  function nearBottom(list) {
    var rect = list.getBoundingClientRect();
    return rect.bottom <= window.innerHeight + 120;
  }
  function button() { return document.querySelector("[data-jump-latest]"); }
  function show() {
    var b = button();
    if (!b) return;
    b.hidden = unseen === 0;
    var count = b.querySelector("[data-new-count]");
    if (count) count.textContent = String(unseen);
    b.lastChild.textContent = unseen === 1 ? " new offer" : " new offers";
  }
  var wasNearBottom = true;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var list = document.querySelector("[data-follow-latest]");
    if (list && event.detail.target === list) wasNearBottom = nearBottom(list);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var list = document.querySelector("[data-follow-latest]");
    if (!list || event.detail.target !== list) return;
    var fragment = document.createElement("div");
    fragment.innerHTML = event.detail.xhr ? event.detail.xhr.responseText : "";
    var added = fragment.querySelectorAll("li.offer").length;
    if (!added) return;
    if (wasNearBottom) {
      list.lastElementChild && list.lastElementChild.scrollIntoView({ block: "end" });
    } else {
      unseen += added;
      show();
    }
  });
  document.addEventListener("click", function (event) {
    var b = event.target.closest && event.target.closest("[data-jump-latest]");
    if (!b) return;
    var list = document.querySelector("[data-follow-latest]");
    if (list && list.lastElementChild) list.lastElementChild.scrollIntoView({ block: "end", behavior: "smooth" });
    unseen = 0;
    show();
  });
  window.addEventListener("scroll", function () {
    var list = document.querySelector("[data-follow-latest]");
    if (unseen && list && nearBottom(list)) { unseen = 0; show(); }
  }, { passive: true });
})();
