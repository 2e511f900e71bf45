/* The life-circle map (/lifecircle/): one kind of facility at a time.
 *
 * Layers (GeoJSON from /lifecircle/layers/<layer>.json?kind=<code>): the streets shaded by
 * walking time, the compounds (covered green, not covered orange, not connected grey and
 * dashed, not computed yet — newer than the last computation, no state — blue-grey and
 * dotted), the residential buildings (off until switched on) and the facilities (OSM ones
 * round and blue, registered ones square and purple).
 *
 * What-if: with "place a candidate site" on, a click on the map asks /lifecircle/whatif/
 * what a facility there would change; the server renders the panel (escaped HTML), this
 * file only places it. Best sites: /lifecircle/best-sites/ returns numbered picks, drawn
 * as markers; "my candidate sites" sends the clicked points as lon,lat;lon,lat (with none
 * placed it says so and sends nothing, rather than the server falling back to junctions).
 *
 * Coordinates are WGS-84 everywhere; web/map.js shifts them for GCJ-02 tiles (api.show /
 * api.store). Every text comes from the page's json_script "lc-setup" (translated there).
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, fields) {
    var body = new URLSearchParams();
    Object.keys(fields).forEach(function (k) { body.append(k, fields[k]); });
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
      body: body
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, status: r.status, data: data }; },
        function () { return { ok: false, status: r.status, data: {} }; });
    });
  }

  function line(parent, label, value) {
    var div = document.createElement("div");
    if (label) {
      var b = document.createElement("strong");
      b.textContent = label + ": ";
      div.appendChild(b);
    }
    div.appendChild(document.createTextNode(value));
    parent.appendChild(div);
  }

  function start() {
    var el = document.querySelector("[data-lc-map]");
    var source = document.getElementById("lc-setup");
    if (!el || !source || !window.civicloop || !window.L) return;
    var setup = JSON.parse(source.textContent);
    var T = setup.text;
    var api = window.civicloop.map.setup(el);
    var map = api.map;
    var coords = function (c) { var p = api.show(c[1], c[0]); return L.latLng(p[0], p[1]); };
    var kind = setup.kind;
    var names = { segments: T.streets, compounds: T.compounds, buildings: T.buildings, facilities: T.facilities };
    var groups = {};
    var visible = { segments: true, compounds: true, buildings: false, facilities: true };
    var fitted = false;
    var generation = 0;

    map.on("overlayadd", function (e) { Object.keys(groups).forEach(function (k) { if (groups[k] === e.layer) visible[k] = true; }); });
    map.on("overlayremove", function (e) { Object.keys(groups).forEach(function (k) { if (groups[k] === e.layer) visible[k] = false; }); });

    function layerUrl(name) {
      return setup.layer_url.replace("LAYER", name) + "?kind=" + encodeURIComponent(kind);
    }

    function reachPopup(p) {
      var box = document.createElement("div");
      var title = document.createElement("strong");
      title.textContent = p.name || "";
      box.appendChild(title);
      if (p.community) line(box, "", p.community);
      line(box, T.households, String(p.households || 0));
      if (!p.state) { line(box, "", T.not_computed); return box; }
      if (p.state === "unreachable") line(box, "", T.not_connected);
      else if (p.state === "beyond") line(box, "", T.beyond);
      else {
        line(box, T.distance, Math.round(p.distance_m) + " " + T.metres + " · " + p.minutes + " " + T.minutes);
        if (p.level) line(box, T.level, p.level + " " + T.minutes);
        if (p.facility) line(box, T.nearest, p.facility);
      }
      line(box, "", p.covered ? T.covered : T.not_covered);
      return box;
    }

    function compoundStyle(f) {
      var p = f.properties || {};
      if (p.covered) return { color: "#1a7f37", weight: 2, fillColor: "#a5d6a7", fillOpacity: 0.5 };
      if (!p.state) return { color: "#78909c", weight: 2, dashArray: "1 4", fillColor: "#eceff1", fillOpacity: 0.5 };
      if (p.state === "unreachable") return { color: "#616161", weight: 2, dashArray: "4 4", fillColor: "#e0e0e0", fillOpacity: 0.5 };
      return { color: "#e65100", weight: 2, fillColor: "#ffcc80", fillOpacity: 0.5 };
    }

    // A click on a drawn place shows its popup, or, while placing candidate sites, places
    // one there (Leaflet would otherwise open the popup and swallow the click).
    var placing = false;
    var onPlace = null;
    function clickable(layer, content) {
      layer.on("click", function (e) {
        L.DomEvent.stopPropagation(e);
        if (placing && onPlace) onPlace(e.latlng);
        else L.popup().setLatLng(e.latlng).setContent(content()).openOn(map);
      });
    }

    var builders = {
      segments: function (data) {
        return L.geoJSON(data, {
          coordsToLatLng: coords, interactive: false,
          style: function (f) {
            var band = setup.bands[f.properties.band] || setup.bands[setup.bands.length - 1];
            return { color: band.colour, weight: 3, opacity: 0.85 };
          }
        });
      },
      compounds: function (data) {
        return L.geoJSON(data, {
          coordsToLatLng: coords, style: compoundStyle,
          onEachFeature: function (f, layer) { clickable(layer, function () { return reachPopup(f.properties || {}); }); }
        });
      },
      buildings: function (data) {
        return L.geoJSON(data, {
          coordsToLatLng: coords,
          pointToLayer: function (f, latlng) {
            var s = compoundStyle(f);
            return L.circleMarker(latlng, { radius: 4, weight: 1, color: s.color, fillColor: s.fillColor, fillOpacity: 0.9 });
          },
          onEachFeature: function (f, layer) { clickable(layer, function () { return reachPopup(f.properties || {}); }); }
        });
      },
      facilities: function (data) {
        return L.geoJSON(data, {
          coordsToLatLng: coords,
          pointToLayer: function (f, latlng) {
            var mine = (f.properties || {}).source === "civicloop";
            return L.circleMarker(latlng, mine
              ? { radius: 7, weight: 3, color: "#6a1b9a", fillColor: "#ce93d8", fillOpacity: 1 }
              : { radius: 6, weight: 2, color: "#12355b", fillColor: "#8ab4f8", fillOpacity: 1 });
          },
          onEachFeature: function (f, layer) {
            var p = f.properties || {};
            var box = document.createElement("div");
            var title = document.createElement("strong");
            title.textContent = p.name || "";
            box.appendChild(title);
            line(box, "", (p.kind_name || "") + " · " + (p.source === "civicloop" ? T.registered : T.osm));
            clickable(layer, function () { return box; });
          }
        });
      }
    };

    function load(name, gen) {
      return fetch(layerUrl(name), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { features: [] }; })
        .catch(function () { return { features: [] }; })
        .then(function (data) {
          if (gen !== generation) return null;  // another kind was chosen meanwhile
          if (groups[name]) { api.layers.removeLayer(groups[name]); map.removeLayer(groups[name]); }
          var group = builders[name](data);
          groups[name] = group;
          api.layers.addOverlay(group, names[name]);
          if (visible[name]) group.addTo(map);
          return group;
        });
    }

    function loadAll() {
      generation += 1;
      var gen = generation;
      el.removeAttribute("data-loaded");
      Promise.all(["segments", "compounds", "buildings", "facilities"].map(function (n) { return load(n, gen); }))
        .then(function (loaded) {
          if (gen !== generation) return;
          if (!fitted) {
            var bounds = L.latLngBounds([]);
            loaded.forEach(function (g) { if (g && g.getLayers().length) bounds.extend(g.getBounds()); });
            if (bounds.isValid()) { map.fitBounds(bounds, { padding: [12, 12], maxZoom: 17 }); fitted = true; }
          }
          el.setAttribute("data-loaded", kind);
        });
    }

    // ---- what-if and best sites ----
    var candidates = [];        // [lon, lat] WGS-84
    var candidateMarkers = L.layerGroup().addTo(map);
    var siteMarkers = L.layerGroup().addTo(map);
    var placeButton = document.getElementById("lc-place");
    var clearButton = document.getElementById("lc-clear");
    var whatifPanel = document.getElementById("lc-whatif");
    var bestPanel = document.getElementById("lc-best");
    var bestForm = document.getElementById("lc-best-form");

    function show(panel, result) {
      panel.textContent = "";
      if (result.ok && result.data.html) {
        panel.innerHTML = result.data.html;  // rendered (and escaped) by the server
      } else {
        var p = document.createElement("p");
        p.className = "lc-error";
        p.setAttribute("role", "alert");
        p.textContent = (result.data && result.data.error) || T.failed;
        panel.appendChild(p);
      }
    }

    function busy(panel) {
      panel.textContent = "";
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = T.working;
      panel.appendChild(p);
    }

    if (placeButton) {
      placeButton.addEventListener("click", function () {
        placing = !placing;
        placeButton.setAttribute("aria-pressed", placing ? "true" : "false");
        el.classList.toggle("lc-placing", placing);
      });
    }

    onPlace = function (latlng) {
      var w = api.store(latlng.lat, latlng.lng);
      var lon = w[1], lat = w[0];
      candidates.push([lon, lat]);
      L.marker(latlng, { title: T.candidate, keyboard: true }).bindPopup(T.candidate).addTo(candidateMarkers);
      busy(whatifPanel);
      post(setup.whatif_url, { kind: kind, lon: lon.toFixed(7), lat: lat.toFixed(7) })
        .then(function (result) { show(whatifPanel, result); },
          function () { show(whatifPanel, { ok: false, data: {} }); });
    };
    map.on("click", function (e) { if (placing) onPlace(e.latlng); });

    if (clearButton) {
      clearButton.addEventListener("click", function () {
        candidates = [];
        candidateMarkers.clearLayers();
        siteMarkers.clearLayers();
        whatifPanel.textContent = "";
        bestPanel.textContent = "";
      });
    }

    if (bestForm) {
      bestForm.addEventListener("submit", function (e) {
        e.preventDefault();
        var own = document.getElementById("lc-own");
        var fields = { kind: kind, k: document.getElementById("lc-k").value };
        if (own && own.checked) {
          if (!candidates.length) {
            siteMarkers.clearLayers();
            show(bestPanel, { ok: false, data: { error: T.no_candidates } });
            return;
          }
          fields.candidates = candidates.map(function (c) { return c[0].toFixed(7) + "," + c[1].toFixed(7); }).join(";");
        }
        busy(bestPanel);
        siteMarkers.clearLayers();
        post(setup.best_url, fields).then(function (result) {
          show(bestPanel, result);
          if (!result.ok) return;
          (result.data.picks || []).forEach(function (p) {
            var at = api.show(p.lat, p.lon);
            var icon = L.divIcon({ className: "lc-site-icon", html: String(Number(p.n)), iconSize: [24, 24] });
            L.marker(at, { icon: icon, title: T.site.replace("%(n)s", p.n), keyboard: true })
              .bindPopup(T.site.replace("%(n)s", p.n) + ": +" + Number(p.households_gained) + " " + T.households)
              .addTo(siteMarkers);
          });
        }, function () { show(bestPanel, { ok: false, data: {} }); });
      });
    }

    var select = document.getElementById("lc-kind");
    if (select) {
      select.addEventListener("change", function () {
        kind = select.value;
        if (window.history && window.history.replaceState) window.history.replaceState(null, "", "?kind=" + encodeURIComponent(kind));
        whatifPanel.textContent = "";
        bestPanel.textContent = "";
        siteMarkers.clearLayers();
        loadAll();
      });
    }

    loadAll();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
