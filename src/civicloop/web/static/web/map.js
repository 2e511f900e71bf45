/* civicloop maps: one Leaflet set-up for every page.
 *
 * <div class="map" data-map
 *      data-boundaries="grid,community"          area kinds drawn from /geo/areas.geojson
 *      data-points="/some/points.geojson"         GeoJSON points, clustered (optional)
 *      data-pin-lat="id_lat" data-pin-lon="id_lon"  inputs a draggable pin writes WGS-84 into (optional)
 *      data-heat="1">                              draw points as a heat map instead of clusters
 * </div>
 *
 * Everything we store is WGS-84. The base map is optional (settings.MAP_TILES): with no
 * tiles reachable the boundaries, pins and clusters still work. When the tiles are drawn
 * in GCJ-02 (Amap), our data is shifted onto them for display and pins are shifted back;
 * the offset is the same published algorithm as civicloop/places/coords.py.
 */
(function () {
  "use strict";

  var A = 6378245.0, EE = 0.00669342162296594323;
  var CHINA = [[42.8899, 79.4462, 49.2204, 96.33], [39.3742, 109.6872, 54.1415, 135.0002],
    [29.5297, 73.1246, 42.8899, 124.143255], [26.7186, 82.9684, 29.5297, 97.0352],
    [20.414096, 97.0253, 29.5297, 124.367395], [17.871542, 107.975793, 20.414096, 111.744104]];
  var EXCLUDED = [[21.785006, 119.921265, 25.398623, 122.497559], [20.0988, 101.8652, 22.284, 106.665],
    [20.4878, 106.4525, 21.5422, 108.051], [50.3257, 109.0323, 55.8175, 119.127],
    [49.5574, 127.4568, 55.8175, 137.0227], [42.5692, 131.2662, 44.8922, 137.0227]];

  function inside(lat, lon, rects) {
    for (var i = 0; i < rects.length; i++) {
      var r = rects[i];
      if (lat >= r[0] && lon >= r[1] && lat <= r[2] && lon <= r[3]) return true;
    }
    return false;
  }
  function inChina(lat, lon) { return inside(lat, lon, CHINA) && !inside(lat, lon, EXCLUDED); }

  function offset(lat, lon) {
    var x = lon - 105.0, y = lat - 35.0, xp = x * Math.PI, yp = y * Math.PI;
    var s = Math.sqrt(Math.abs(x));
    var common = (20 * Math.sin(6 * xp) + 20 * Math.sin(2 * xp)) * 2 / 3;
    var dlat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * s + common +
      (20 * Math.sin(yp) + 40 * Math.sin(yp / 3)) * 2 / 3 + (160 * Math.sin(yp / 12) + 320 * Math.sin(yp / 30)) * 2 / 3;
    var dlon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * s + common +
      (20 * Math.sin(xp) + 40 * Math.sin(xp / 3)) * 2 / 3 + (150 * Math.sin(xp / 12) + 300 * Math.sin(xp / 30)) * 2 / 3;
    var rad = lat / 180 * Math.PI, magic = 1 - EE * Math.sin(rad) * Math.sin(rad), sm = Math.sqrt(magic);
    return [(dlat * 180) / ((A * (1 - EE)) / (magic * sm) * Math.PI), (dlon * 180) / (A / sm * Math.cos(rad) * Math.PI)];
  }
  function toGcj(lat, lon) {
    if (!inChina(lat, lon)) return [lat, lon];
    var d = offset(lat, lon);
    return [lat + d[0], lon + d[1]];
  }
  function toWgs(lat, lon) {
    if (!inChina(lat, lon)) return [lat, lon];
    var w = [lat, lon];
    for (var i = 0; i < 30; i++) {
      var g = toGcj(w[0], w[1]), eLat = g[0] - lat, eLon = g[1] - lon;
      w = [w[0] - eLat, w[1] - eLon];
      if (Math.max(Math.abs(eLat), Math.abs(eLon)) < 1e-9) break;
    }
    return w;
  }

  function config() {
    var el = document.getElementById("map-config");
    return el ? JSON.parse(el.textContent) : { tiles: { url: "", crs: "wgs84" } };
  }

  function setup(el) {
    if (el._civicMap) return el._civicMap;
    var cfg = config(), gcj = cfg.tiles.crs === "gcj02";
    var show = gcj ? function (lat, lon) { return toGcj(lat, lon); } : function (lat, lon) { return [lat, lon]; };
    var store = gcj ? function (lat, lon) { return toWgs(lat, lon); } : function (lat, lon) { return [lat, lon]; };
    // A max zoom of its own: clustering needs one even when no tile layer sets it.
    var map = L.map(el, { preferCanvas: true, zoomControl: true, keyboard: true, maxZoom: cfg.tiles.max_zoom || 19 });
    el.setAttribute("role", "application");
    if (cfg.tiles.url) {
      var opts = { attribution: cfg.tiles.attribution, maxZoom: cfg.tiles.max_zoom || 19 };
      if (cfg.tiles.subdomains) opts.subdomains = cfg.tiles.subdomains;
      L.tileLayer(cfg.tiles.url, opts).addTo(map);  // unreachable tiles only leave a blank background
    }
    var coords = function (c) { var p = show(c[1], c[0]); return L.latLng(p[0], p[1]); };
    var bounds = L.latLngBounds([]);
    var overlays = {};
    var layers = L.control.layers(null, overlays, { collapsed: true }).addTo(map);
    var api = { map: map, el: el, show: show, store: store, bounds: bounds, layers: layers };
    el._civicMap = api;

    function fit() {
      if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], maxZoom: 17 });
    }

    var kinds = (el.dataset.boundaries || "").split(",").filter(Boolean);
    var pending = kinds.length + (el.dataset.points ? 1 : 0);
    function done() { pending -= 1; if (pending <= 0 && !api.pin) fit(); }
    if (!pending) map.setView(cfg.center && cfg.center.length ? show(cfg.center[0], cfg.center[1]) : [0, 0], cfg.center && cfg.center.length ? 14 : 2);

    var styles = { grid: { color: "#12355b", weight: 1, fill: false, dashArray: "3 3" },
      community: { color: "#b3261e", weight: 2, fill: false }, street: { color: "#6a1b9a", weight: 3, fill: false },
      district: { color: "#000", weight: 3, fill: false }, compound: { color: "#2e7d32", weight: 1, fillOpacity: 0.08 } };
    kinds.forEach(function (kind) {
      fetch(el.dataset.boundariesUrl || "/geo/areas.geojson?kind=" + encodeURIComponent(kind), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { features: [] }; })
        .then(function (data) {
          var layer = L.geoJSON(data, { coordsToLatLng: coords, style: styles[kind] || {}, interactive: false });
          layer.addTo(map);
          layers.addOverlay(layer, (data.properties && data.properties.label) || kind);
          if (layer.getLayers().length) bounds.extend(layer.getBounds());
        })
        .catch(function () {}).then(done);
    });

    if (el.dataset.points) {
      fetch(el.dataset.points, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { features: [] }; })
        .then(function (data) {
          var heat = el.dataset.heat === "1" && L.heatLayer;
          var group;
          if (heat) {
            group = L.heatLayer(data.features.map(function (f) {
              var p = show(f.geometry.coordinates[1], f.geometry.coordinates[0]); return [p[0], p[1], 0.6];
            }), { radius: 18 });
          } else {
            group = L.markerClusterGroup ? L.markerClusterGroup({ showCoverageOnHover: false }) : L.featureGroup();
            L.geoJSON(data, {
              coordsToLatLng: coords,
              pointToLayer: function (f, latlng) {
                var p = f.properties || {};
                return L.circleMarker(latlng, { radius: 7, weight: 2, color: p.overdue ? "#b3261e" : "#12355b",
                  fillColor: p.overdue ? "#f28b82" : "#8ab4f8", fillOpacity: 0.9 });
              },
              onEachFeature: function (f, layer) {
                var p = f.properties || {};
                var a = document.createElement("div");
                if (p.url) { var link = document.createElement("a"); link.href = p.url; link.textContent = p.title || p.url; a.appendChild(link); }
                else a.textContent = p.title || "";
                if (p.subtitle) { var s = document.createElement("div"); s.textContent = p.subtitle; a.appendChild(s); }
                layer.bindPopup(a);
              }
            }).eachLayer(function (m) { group.addLayer(m); });
          }
          group.addTo(map);
          layers.addOverlay(group, (data.properties && data.properties.label) || "•");
          if (data.features.length) data.features.forEach(function (f) { bounds.extend(coords(f.geometry.coordinates)); });
          api.points = group;
        })
        .catch(function () {}).then(done);
    }

    var latInput = el.dataset.pinLat && document.getElementById(el.dataset.pinLat);
    var lonInput = el.dataset.pinLon && document.getElementById(el.dataset.pinLon);
    if (latInput && lonInput) {
      api.setPin = function (lat, lon, pan) {
        var p = show(lat, lon);
        if (!api.pin) {
          api.pin = L.marker(p, { draggable: true, keyboard: true, title: el.dataset.pinTitle || "" }).addTo(map);
          api.pin.on("dragend", function () { var ll = api.pin.getLatLng(); write(ll.lat, ll.lng); });
        } else api.pin.setLatLng(p);
        latInput.value = lat.toFixed(7); lonInput.value = lon.toFixed(7);
        latInput.dispatchEvent(new Event("change", { bubbles: true }));
        if (pan) map.setView(p, Math.max(map.getZoom() || 0, 17));
      };
      var write = function (dlat, dlon) { var w = store(dlat, dlon); api.setPin(w[0], w[1], false); };
      map.on("click", function (e) { write(e.latlng.lat, e.latlng.lng); });
      if (latInput.value && lonInput.value) api.setPin(parseFloat(latInput.value), parseFloat(lonInput.value), true);
    }
    setTimeout(function () { map.invalidateSize(); }, 0);
    return api;
  }

  function locate(button) {
    var target = document.getElementById(button.dataset.locate);
    var status = button.dataset.status && document.getElementById(button.dataset.status);
    if (!navigator.geolocation) { if (status) status.textContent = button.dataset.unavailable || ""; return; }
    if (status) status.textContent = button.dataset.busy || "";
    navigator.geolocation.getCurrentPosition(function (pos) {
      var api = setup(target);   // the device gives WGS-84
      if (api.setPin) api.setPin(pos.coords.latitude, pos.coords.longitude, true);
      if (status) status.textContent = "";
    }, function () { if (status) status.textContent = button.dataset.failed || ""; }, { enableHighAccuracy: true, timeout: 10000 });
  }

  function init(root) {
    (root || document).querySelectorAll("[data-map]").forEach(setup);
    (root || document).querySelectorAll("[data-locate]").forEach(function (b) {
      if (!b._civicLocate) { b._civicLocate = true; b.addEventListener("click", function () { locate(b); }); }
    });
  }

  window.civicloop = window.civicloop || {};
  window.civicloop.map = { setup: setup, init: init, toGcj: toGcj, toWgs: toWgs };
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target); });
})();
