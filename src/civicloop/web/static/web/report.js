/* The resident's pages: small enhancements over forms that work without JavaScript.
 *
 * - the no-JS "Search" button of the category list goes away (htmx searches as you type),
 *   and Enter in the search box searches instead of sending the report;
 * - picked photos are listed with a thumbnail, so the resident sees what will be sent;
 * - [data-copy="element-id"] buttons copy a ticket number;
 * - coordinates typed by hand move the pin (map.js only writes them);
 * - on the map of open problems, "Report a problem here" carries the pin's position.
 */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    document.querySelectorAll(".nojs-only").forEach(function (el) { el.remove(); });

    var q = document.getElementById("category-q");
    if (q) {
      q.addEventListener("keydown", function (e) {
        if (e.key === "Enter") {
          e.preventDefault();
          if (window.htmx) window.htmx.trigger(q, "search");
        }
      });
    }

    var typedLat = document.getElementById("id_lat"), typedLon = document.getElementById("id_lon");
    var reportMap = document.getElementById("report-map");
    if (typedLat && typedLon && reportMap) {
      var timer = null;
      var follow = function () {
        clearTimeout(timer);
        timer = setTimeout(function () {
          var la = parseFloat(typedLat.value), lo = parseFloat(typedLon.value);
          var api = window.civicloop && window.civicloop.map && window.L ? window.civicloop.map.setup(reportMap) : null;
          // setPin announces the new position with a change event, which refreshes the nearby list.
          if (api && api.setPin && isFinite(la) && isFinite(lo) && Math.abs(la) <= 90 && Math.abs(lo) <= 180) api.setPin(la, lo, true);
        }, 400);
      };
      // "input" is typing only; setPin's own change event does not come back here.
      typedLat.addEventListener("input", follow);
      typedLon.addEventListener("input", follow);
    }

    var photos = document.getElementById("id_photos");
    var preview = document.getElementById("photo-preview");
    if (photos && preview) {
      photos.addEventListener("change", function () {
        preview.textContent = "";
        Array.prototype.forEach.call(photos.files || [], function (file) {
          var li = document.createElement("li");
          if (file.type && file.type.indexOf("image/") === 0 && window.URL && URL.createObjectURL) {
            var img = document.createElement("img");
            img.alt = "";
            img.src = URL.createObjectURL(file);
            img.onload = function () { URL.revokeObjectURL(img.src); };
            li.appendChild(img);
          }
          var name = document.createElement("span");
          name.textContent = file.name;
          li.appendChild(name);
          preview.appendChild(li);
        });
      });
    }

    document.querySelectorAll("[data-copy]").forEach(function (button) {
      var target = document.getElementById(button.dataset.copy);
      if (!target || !navigator.clipboard) return;
      button.hidden = false;
      var label = button.textContent;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(target.textContent.trim()).then(function () {
          button.textContent = button.dataset.copied || label;
          setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });

    var here = document.getElementById("report-here");
    var lat = document.getElementById("nearby-lat"), lon = document.getElementById("nearby-lon");
    if (here && lat && lon) {
      lat.addEventListener("change", function () {
        if (lat.value && lon.value) {
          here.href = here.dataset.reportUrl + "?lat=" + encodeURIComponent(lat.value) + "&lon=" + encodeURIComponent(lon.value);
        }
      });
    }
  });
})();
