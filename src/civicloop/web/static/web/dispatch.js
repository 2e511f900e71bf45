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

/* Marker clustering needs a maximum zoom, which Leaflet takes from the tile layer; with no
 * base map (offline intranets, settings.MAP_TILES "none") there is none, and clustering
 * fails with "Map has no maxZoom specified". Give maps on these pages a default one.
 * (Scripts are deferred in order: Leaflet is loaded, map.js builds maps on DOMContentLoaded.) */
(function () {
  "use strict";
  if (window.L && window.L.Map) window.L.Map.mergeOptions({ maxZoom: 19 });
})();
