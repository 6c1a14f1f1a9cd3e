// Ticketing pages: a Print button prints the page (its print style hides
// the console's chrome). Without JavaScript the browser's own print works.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-print]");
    if (!btn) return;
    e.preventDefault();
    window.print();
  });
})();
