// Arus storefront: small enhancements; every page works without them.
(function () {
  "use strict";
  // The hold's countdown: the page says "pay by HH:MM"; this ticks the
  // minutes and seconds left, and reloads the page when the hold ends.
  document.querySelectorAll("time[data-deadline]").forEach(function (el) {
    var end = Date.parse(el.getAttribute("data-deadline"));
    if (isNaN(end)) return;
    if (el.parentNode.hidden !== undefined) el.parentNode.hidden = false;
    function tick() {
      var left = Math.max(0, Math.round((end - Date.now()) / 1000));
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = m + ":" + (s < 10 ? "0" : "") + s;
      if (left === 0) { clearInterval(timer); setTimeout(function () { location.reload(); }, 3000); }
    }
    var timer = setInterval(tick, 1000);
    tick();
  });
  // A state about to change (the payment being prepared, the tickets
  // being issued): load the page again in a moment. Without JavaScript
  // the notice carries a link that does the same.
  document.querySelectorAll("[data-refresh]").forEach(function (el) {
    var secs = parseInt(el.getAttribute("data-refresh"), 10);
    if (secs > 0) setTimeout(function () { location.reload(); }, secs * 1000);
  });
  // The e-ticket's print button.
  document.querySelectorAll("button.print").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { window.print(); });
  });
})();
