/* The dispatcher's pages: show refusals inline, tick all rows.
 *
 * htmx does not swap 4xx answers by default; ours carry the row (or form) with the
 * refusal next to its field, so they are swapped like a success.
 */
(function () {
  "use strict";
  var INLINE = { 400: true, 403: true, 404: true, 409: true };
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (INLINE[e.detail.xhr.status]) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });
  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!box.matches || !box.matches("input[data-select-all]")) return;
    var form = box.getAttribute("data-select-all");
    document.querySelectorAll('input[type=checkbox][name=cases][form="' + form + '"]').forEach(function (c) {
      c.checked = box.checked;
    });
  });
})();
