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
// The message browser's live tail: the "Live tail" button (shown only
// with JavaScript) opens an event stream of the rows that reach the topic
// after the page was made, filtered as the page is, and puts each batch on
// top of the table; pressing it again stops.
(function () {
  "use strict";
  var btn = document.getElementById("m-live");
  if (!window.EventSource || !btn) return;
  btn.hidden = false;
  var es = null, table = document.getElementById("m-table"), rows = document.getElementById("m-rows"),
    status = document.getElementById("m-live-status"), total = 0;
  btn.addEventListener("click", function () {
    if (es) {
      es.close();
      es = null;
      btn.setAttribute("aria-pressed", "false");
      btn.textContent = "Live tail";
      return;
    }
    var q = new URLSearchParams(window.location.search);
    q.delete("cursor");
    q.delete("offset");
    q.delete("time");
    q.set("cursor", btn.getAttribute("data-from"));
    es = new EventSource(btn.getAttribute("data-live-rows") + "?" + q.toString());
    btn.setAttribute("aria-pressed", "true");
    btn.textContent = "Stop live tail";
    es.addEventListener("rows", function (e) {
      var v = JSON.parse(e.data);
      table.hidden = false;
      rows.insertAdjacentHTML("afterbegin", v.rows);
      while (rows.rows.length > 500) rows.deleteRow(rows.rows.length - 1);
      total += v.count;
      status.textContent = total + " new record(s)";
    });
  });
})();
