/* The case page with htmx: action forms swap #case-live in place.
 *
 * htmx leaves 4xx answers unswapped by default; here a refusal (400), a role that may
 * not (403) and a conflict (409) carry the re-rendered panel with the error next to
 * the form, so they are swapped like a success. After a swap, focus moves to the
 * message, the error or the first invalid field, so keyboard and screen-reader users
 * land where the answer is. Without JavaScript the forms post and the page reloads.
 */
(function () {
  "use strict";

  var SWAPPED = { 400: true, 403: true, 409: true };

  document.addEventListener("htmx:beforeSwap", function (e) {
    var xhr = e.detail.xhr;
    if (xhr && SWAPPED[xhr.status] && e.detail.target && e.detail.target.id === "case-live") {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSettle", function (e) {
    var root = document.getElementById("case-live");
    if (!root || !(e.target === root || root.contains(e.target) || e.target.contains(root))) return;
    var target = root.querySelector("details[open] [aria-invalid=true]") || root.querySelector("[data-focus]");
    if (target) {
      target.focus({ preventScroll: false });
      if (target.scrollIntoView) target.scrollIntoView({ block: "center" });
    }
  });

  // A network failure must not look like a click that did nothing.
  document.addEventListener("htmx:sendError", function () {
    var root = document.getElementById("case-actions");
    if (!root) return;
    var p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = root.dataset.offline || "";
    if (p.textContent) root.insertBefore(p, root.children[1] || null);
  });
})();
