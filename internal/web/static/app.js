// Progressive enhancement only: every core flow works without this file.
(function () {
  "use strict";
  // Copy buttons: <button data-copy="#id">.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    var el = document.querySelector(btn.getAttribute("data-copy"));
    if (!el || !navigator.clipboard) return;
    navigator.clipboard.writeText(el.textContent.trim()).then(function () {
      var label = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = label; }, 1500);
    });
  });
  // Forms that ask before doing something destructive: <form data-confirm="...">.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
  // Selects that change what a form offers (<select data-reload>) post the
  // form back with action=load; without JavaScript a Load button does.
  document.addEventListener("change", function (e) {
    var el = e.target.closest("select[data-reload]");
    if (!el || !el.form) return;
    var a = document.createElement("input");
    a.type = "hidden"; a.name = "action"; a.value = "load";
    el.form.appendChild(a);
    el.form.submit();
  });
  // Navigation toggle on small screens.
  var toggle = document.querySelector(".menu-toggle");
  if (toggle) toggle.addEventListener("click", function () {
    var nav = document.querySelector("nav.side");
    var open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
  // Relative times: <time datetime="..."> gets "3 min ago", exact time on hover.
  function rel(ts) {
    var s = Math.round((Date.now() - ts) / 1000), a = Math.abs(s), f = s >= 0 ? " ago" : " from now";
    if (a < 45) return "just now";
    if (a < 3600) return Math.round(a / 60) + " min" + f;
    if (a < 86400) return Math.round(a / 3600) + " h" + f;
    return Math.round(a / 86400) + " d" + f;
  }
  document.querySelectorAll("time[data-relative]").forEach(function (t) {
    var ts = Date.parse(t.getAttribute("datetime"));
    if (isNaN(ts)) return;
    t.title = t.textContent;
    t.textContent = rel(ts);
  });
})();
// Live figures: <strong data-live="key"> inside a page whose container
// names its event source with data-live-source; each "values" event
// replaces the text of every key it carries, and "pill:<key>" the state of
// a status pill. Without JavaScript the page shows the values as rendered.
(function () {
  "use strict";
  var src = document.querySelector("[data-live-source]");
  if (!window.EventSource || !src) return;
  var es = new EventSource(src.getAttribute("data-live-source"));
  es.addEventListener("values", function (e) {
    var v = JSON.parse(e.data);
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var k = el.getAttribute("data-live");
      if (v[k] !== undefined && el.textContent !== v[k]) el.textContent = v[k];
      var pill = v["pill:" + k];
      if (pill !== undefined && el.classList.contains("pill")) el.className = "pill " + pill;
    });
  });
})();
