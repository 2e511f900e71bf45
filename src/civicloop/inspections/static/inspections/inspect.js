/* civicloop: inspecting on a phone (/inspect/ and /inspect/<location>/).
 *
 * The draft of a visit lives in this browser, in IndexedDB ("civicloop-inspect"): answers in
 * the store "drafts" (one per user and location, with the client_uuid made when the draft
 * starts), photos as Blobs in the store "photos". It is saved on every change, so it survives
 * a dropped connection, a reload and a closed browser. "Submit" posts the answers (JSON) and
 * the photos (multipart) to /inspect/<location>/submit/; when that fails for want of a
 * connection the draft waits and is sent again on the "online" event, every 30 seconds while
 * the page is open, and whenever /inspect/ or a location page is opened. The server answers
 * a draft sent twice with the visit of the first (same client_uuid), so a retry never records
 * a visit twice. Only a successful answer removes the draft.
 *
 * The running score is computed here for information only, with the rules of
 * inspections/scoring.py in whole cents; the server scores the visit again from the answers.
 */
(function () {
  "use strict";

  var cfgEl = document.getElementById("inspect-config");
  if (!cfgEl) return;
  var CFG = JSON.parse(cfgEl.textContent);
  var T = CFG.text;
  var RETRY_MS = 30000;
  var noop = function () {};

  function fmt(text, vars) {
    return String(text).replace(/%\((\w+)\)s/g, function (_m, k) { return vars && vars[k] != null ? String(vars[k]) : ""; });
  }
  function nowIso() { return new Date().toISOString(); }
  function uuid4() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    // Pages served over plain HTTP have no randomUUID, but they have getRandomValues.
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function setStatus(el, text, kind) {
    if (!el) return;
    el.textContent = text || "";
    el.className = el.className.replace(/\s*is-\w+/g, "") + (kind ? " is-" + kind : "");
  }

  // ---- storage ---------------------------------------------------------------------------------

  var DB_NAME = "civicloop-inspect", DRAFTS = "drafts", PHOTOS = "photos";
  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        if (!window.indexedDB) { reject(new Error("indexedDB")); return; }
        var req = window.indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () {
          var d = req.result;
          if (!d.objectStoreNames.contains(DRAFTS)) d.createObjectStore(DRAFTS, { keyPath: "key" });
          if (!d.objectStoreNames.contains(PHOTOS)) d.createObjectStore(PHOTOS, { keyPath: "pid" }).createIndex("draft", "draft");
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
        req.onblocked = function () { reject(new Error("blocked")); };
      });
    }
    return dbPromise;
  }
  // Runs fn(stores) in one transaction; resolves with the result of the last request fn returns.
  function tx(stores, mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(stores, mode), result;
        var req = fn(function (name) { return t.objectStore(name); });
        if (req) req.onsuccess = function () { result = req.result; };
        t.oncomplete = function () { resolve(result); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error || new Error("abort")); };
      });
    });
  }
  function draftKey(location) { return CFG.user + ":" + location; }
  function getDraft(location) { return tx([DRAFTS], "readonly", function (s) { return s(DRAFTS).get(draftKey(location)); }); }
  function putDraft(d) { return tx([DRAFTS], "readwrite", function (s) { return s(DRAFTS).put(d); }); }
  function allDrafts() {
    return tx([DRAFTS], "readonly", function (s) { return s(DRAFTS).getAll(); }).then(function (list) {
      return (list || []).filter(function (d) { return d.user === CFG.user; });
    });
  }
  function deleteDraft(d) {
    return tx([DRAFTS, PHOTOS], "readwrite", function (s) {
      s(DRAFTS).delete(d.key);
      var photos = s(PHOTOS);
      (d.photos || []).forEach(function (p) { photos.delete(p.pid); });
      return null;
    });
  }
  function putPhoto(record) { return tx([PHOTOS], "readwrite", function (s) { return s(PHOTOS).put(record); }); }
  function getPhoto(pid) { return tx([PHOTOS], "readonly", function (s) { return s(PHOTOS).get(pid); }); }
  function deletePhoto(pid) { return tx([PHOTOS], "readwrite", function (s) { return s(PHOTOS).delete(pid); }); }

  // ---- sending -----------------------------------------------------------------------------------

  var inFlight = {};

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  function submitUrl(location) { return CFG.submit_url_pattern.replace("{id}", location); }

  function formData(d) {
    var photos = d.photos || [];
    return Promise.all(photos.map(function (p) { return getPhoto(p.pid); })).then(function (records) {
      var data = new FormData(), listed = [];
      records.forEach(function (rec, i) {
        if (!rec || !rec.blob) return;  // removed meanwhile
        var field = "photo_" + i, meta = photos[i];
        data.append(field, rec.blob, rec.name || (field + ".jpg"));
        listed.push(meta.kind === "finding" ? { field: field, finding_id: meta.target } : { field: field, item_id: meta.target });
      });
      var answers = {
        client_uuid: d.client_uuid,
        started_at: d.started_at,
        recorded_at: d.recorded_at || d.updated_at || nowIso(),
        note: d.note || "",
        crs: "wgs84",
        photos: listed,
        checks: Object.keys(d.items || {}).map(function (id) {
          var a = d.items[id];
          return { item_id: Number(id), occurrences: a.occurrences || 0, veto_hit: !!a.veto_hit,
            not_applicable: !!a.not_applicable, note: a.note || "", description: a.description || "" };
        }),
        rechecks: Object.keys(d.rechecks || {}).map(function (id) {
          var r = d.rechecks[id];
          return { finding_id: Number(id), recurred: r.recurred, note: r.note || "" };
        })
      };
      if (d.position) { answers.lat = d.position.lat; answers.lon = d.position.lon; answers.accuracy_m = d.position.accuracy_m; }
      data.append("answers", JSON.stringify(answers));
      return data;
    });
  }

  // Resolves with {outcome: "sent" | "waiting" | "refused" | "session", body}.
  function send(d) {
    if (inFlight[d.key]) return inFlight[d.key];
    if (!d.client_uuid) { d.client_uuid = uuid4(); d.started_at = d.started_at || nowIso(); }
    d.recorded_at = d.recorded_at || d.updated_at || nowIso();
    d.status = "waiting";
    d.error = "";
    var promise = putDraft(d).catch(noop).then(function () { return formData(d); }).then(function (data) {
      return fetch(submitUrl(d.location), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
      });
    }).then(function (response) {
      var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      if (!json) return { outcome: response.status === 403 ? "session" : "waiting", body: null };
      return response.json().then(function (body) {
        if (response.status === 200 || response.status === 201) {
          return deleteDraft(d).catch(noop).then(function () { return { outcome: "sent", body: body }; });
        }
        if (response.status === 401) return { outcome: "session", body: body };
        if (response.status >= 500 || response.status === 429) return { outcome: "waiting", body: body };
        d.status = "refused"; d.error = body.message || ""; d.error_field = body.field || "";
        return putDraft(d).catch(noop).then(function () { return { outcome: "refused", body: body }; });
      });
    }, function () {
      return { outcome: "waiting", body: null };  // no connection: the draft stays "waiting"
    }).then(function (result) {
      delete inFlight[d.key];
      return result;
    }, function (error) {
      delete inFlight[d.key];
      throw error;
    });
    inFlight[d.key] = promise;
    return promise;
  }

  function outcomeText(result) {
    if (result.outcome === "sent") {
      var b = result.body || {};
      var text = b.score != null ? fmt(T.sent, { score: b.score }) : T.sent_no_score;
      if (b.off_site) text += " " + fmt(T.off_site, { metres: Math.round(b.distance_m || 0) });
      return text;
    }
    if (result.outcome === "refused") return fmt(T.refused, { message: (result.body && result.body.message) || "" });
    if (result.outcome === "session") return T.session;
    return T.waiting;
  }
  var KIND = { sent: "ok", waiting: "waiting", refused: "error", session: "waiting" };

  // Every draft waiting to be sent, one after the other; ``use`` may swap in the page's own copy.
  function retryWaiting(use, onResult) {
    if (navigator.onLine === false) return Promise.resolve();
    return allDrafts().then(function (drafts) {
      var chain = Promise.resolve();
      drafts.filter(function (d) { return d.status === "waiting"; }).forEach(function (stored) {
        chain = chain.then(function () {
          var d = (use && use(stored)) || stored;
          return send(d).then(function (result) { if (onResult) onResult(d, result); });
        });
      });
      return chain;
    }).catch(noop);
  }

  function keepTrying(use, onResult) {
    var run = function () { retryWaiting(use, onResult); };
    window.addEventListener("online", run);
    window.setInterval(run, RETRY_MS);
    run();
  }

  // The service worker keeps these pages for reopening without a connection: the list and,
  // from the list, every location still to inspect (see inspect/sw.js).
  function registerWorker() {
    if ("serviceWorker" in navigator && window.isSecureContext) {
      navigator.serviceWorker.register(CFG.sw_url, { scope: CFG.home_url }).catch(noop);
      // The list asks every time (new locations may have been assigned); a location page only
      // when it was not served through the worker (the first visit), which keeps it by itself after.
      var home = document.querySelector('[data-page="home"]');
      if (navigator.onLine !== false && (home || !navigator.serviceWorker.controller)) {
        navigator.serviceWorker.ready.then(function (registration) {
          var urls = [CFG.home_url].concat((CFG.keep || []).map(function (id) { return CFG.location_url_pattern.replace("{id}", id); }));
          if (registration.active) registration.active.postMessage({ type: "keep", user: CFG.user, urls: urls });
        }).catch(noop);
      }
    }
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(noop);
  }

  // Logging out on a shared phone: the worker drops the pages it keeps (the next person must
  // not reopen them without a connection). The drafts stay: they are kept per user, and only
  // their inspector sees and sends them after logging in again. The server's answer to the
  // logout (Clear-Site-Data: "cache") empties the browser's own cache.
  function forgetOnLogout() {
    if (!CFG.logout_url || !("serviceWorker" in navigator)) return;
    Array.prototype.forEach.call(document.querySelectorAll("form[action]"), function (form) {
      if (form.getAttribute("action") !== CFG.logout_url) return;
      form.addEventListener("submit", function () {
        var worker = navigator.serviceWorker.controller;
        if (worker) worker.postMessage({ type: "forget" });
      });
    });
  }

  // ---- the list (/inspect/) ----------------------------------------------------------------------

  function initHome() {
    var box = document.getElementById("drafts"), list = document.getElementById("draft-list");
    var status = document.getElementById("drafts-status");
    function render() {
      return allDrafts().then(function (drafts) {
        list.textContent = "";
        box.hidden = drafts.length === 0;
        drafts.sort(function (a, b) { return String(b.updated_at).localeCompare(String(a.updated_at)); });
        drafts.forEach(function (d) {
          var li = document.createElement("li");
          li.className = "card draft draft-" + d.status;
          li.dataset.location = d.location;
          var title = document.createElement("a");
          title.href = CFG.location_url_pattern.replace("{id}", d.location);
          title.className = "location-name";
          title.textContent = d.site_name || ("#" + d.location);
          var meta = document.createElement("p");
          meta.className = "small muted";
          var label = d.status === "waiting" ? T.draft_waiting : d.status === "refused" ? T.draft_refused : T.draft_editing;
          meta.textContent = [d.round_name || "", label, d.updated_at ? new Date(d.updated_at).toLocaleString() : ""].filter(Boolean).join(" · ");
          li.appendChild(title); li.appendChild(meta);
          if (d.error) {
            var err = document.createElement("p"); err.className = "error small"; err.textContent = d.error; li.appendChild(err);
          }
          var actions = document.createElement("p"); actions.className = "actions";
          var now = document.createElement("button"); now.type = "button"; now.className = "primary"; now.textContent = T.submit_now;
          now.addEventListener("click", function () {
            now.disabled = true;
            setStatus(status, T.sending);
            send(d).then(function (result) {
              setStatus(status, (d.site_name ? d.site_name + ": " : "") + outcomeText(result), KIND[result.outcome]);
              return render();
            });
          });
          var open = document.createElement("a"); open.className = "button secondary"; open.href = title.href; open.textContent = T.open;
          var discard = document.createElement("button"); discard.type = "button"; discard.className = "link"; discard.textContent = T.discard;
          discard.addEventListener("click", function () {
            if (window.confirm(T.discard_confirm)) deleteDraft(d).then(render);
          });
          actions.appendChild(now); actions.appendChild(document.createTextNode(" "));
          actions.appendChild(open); actions.appendChild(document.createTextNode(" "));
          actions.appendChild(discard);
          li.appendChild(actions);
          list.appendChild(li);
        });
      }).catch(function () {
        box.hidden = false;
        setStatus(status, T.storage_unavailable, "error");
      });
    }
    render().then(function () {
      keepTrying(null, function (d, result) {
        setStatus(status, (d.site_name ? d.site_name + ": " : "") + outcomeText(result), KIND[result.outcome]);
        render();
      });
    });
  }

  // ---- scoring (information only; mirrors inspections/scoring.py in whole cents) ------------------

  function cents(text) { return Math.round(parseFloat(text || "0") * 100); }
  function money(c) { var s = String(c % 100); return Math.floor(c / 100) + "." + (s.length < 2 ? "0" + s : s); }

  function score(items, answers) {
    var sections = {}, order = [], perItem = {}, locationVeto = false;
    items.forEach(function (it) {
      var a = answers[it.id] || {};
      if (!sections[it.section]) { sections[it.section] = { full: 0, ded: 0, veto: false, applicable: false }; order.push(it.section); }
      var sec = sections[it.section];
      if (a.not_applicable) { perItem[it.id] = { ded: 0, hit: false, na: true }; return; }
      var full = cents(it.points), d = cents(it.deduction), n = a.occurrences || 0, ded = 0, hit = false;
      if (it.rule === "per_occurrence") ded = Math.min(full, d * n);
      else if (it.rule === "fixed") ded = n > 0 ? Math.min(full, d) : 0;
      else if (it.rule === "veto") {
        hit = !!a.veto_hit; ded = hit ? full : 0;
        if (hit) { if (it.veto_scope === "location") locationVeto = true; else sec.veto = true; }
      }
      sec.full += full; sec.ded += ded; sec.applicable = true;
      perItem[it.id] = { ded: ded, hit: hit, na: false };
    });
    var full = 0, raw = 0, any = false;
    order.forEach(function (key) {
      var sec = sections[key];
      if (!sec.applicable) return;
      any = true; full += sec.full; raw += sec.veto || locationVeto ? 0 : sec.full - sec.ded;
    });
    var result = null;
    if (locationVeto) result = any ? 0 : null;
    else if (full > 0) result = Math.floor((raw * 10000 * 2 + full) / (2 * full));  // half up
    return { score: result, items: perItem };
  }

  // ---- where: the site, the device, the distance ------------------------------------------------------

  function segmentsAndRings(geometry) {
    var segments = [], polygons = [], points = [];
    function line(coords) { for (var i = 1; i < coords.length; i++) segments.push([coords[i - 1], coords[i]]); }
    function walk(g) {
      if (!g) return;
      var c = g.coordinates;
      switch (g.type) {
        case "Point": points.push(c); break;
        case "MultiPoint": c.forEach(function (p) { points.push(p); }); break;
        case "LineString": line(c); break;
        case "MultiLineString": c.forEach(line); break;
        case "Polygon": polygons.push(c); c.forEach(line); break;
        case "MultiPolygon": c.forEach(function (p) { polygons.push(p); p.forEach(line); }); break;
        case "GeometryCollection": (g.geometries || []).forEach(walk); break;
        case "Feature": walk(g.geometry); break;
      }
    }
    walk(geometry);
    return { segments: segments, polygons: polygons, points: points };
  }
  function inRing(x, y, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  // Metres from (lat, lon) to the site: 0 inside, else to the nearest edge (a local flat projection).
  function distanceToSite(shape, lat, lon) {
    for (var p = 0; p < shape.polygons.length; p++) {
      var rings = shape.polygons[p];
      if (inRing(lon, lat, rings[0]) && !rings.slice(1).some(function (h) { return inRing(lon, lat, h); })) return 0;
    }
    var kx = 111320 * Math.cos(lat * Math.PI / 180), ky = 110574;
    function xy(c) { return [(c[0] - lon) * kx, (c[1] - lat) * ky]; }
    var best = Infinity;
    shape.points.forEach(function (c) { var q = xy(c); best = Math.min(best, Math.hypot(q[0], q[1])); });
    shape.segments.forEach(function (s) {
      var a = xy(s[0]), b = xy(s[1]), dx = b[0] - a[0], dy = b[1] - a[1], len = dx * dx + dy * dy;
      var t = len ? Math.max(0, Math.min(1, -(a[0] * dx + a[1] * dy) / len)) : 0;
      best = Math.min(best, Math.hypot(a[0] + t * dx, a[1] + t * dy));
    });
    return best;
  }

  function setupMap(onPosition) {
    var el = document.getElementById("site-map"), status = document.getElementById("gps-status");
    var shape = segmentsAndRings(CFG.geometry);
    var api = null, marker = null, circle = null;
    if (el && window.L && window.civicloop && window.civicloop.map) {
      api = window.civicloop.map.setup(el);
      var toLatLng = function (c) { var p = api.show(c[1], c[0]); return window.L.latLng(p[0], p[1]); };
      var layer = window.L.geoJSON(CFG.geometry, {
        coordsToLatLng: toLatLng, style: { color: "#b3261e", weight: 3, fillOpacity: 0.12 },
        pointToLayer: function (_f, ll) { return window.L.circleMarker(ll, { radius: 8, color: "#b3261e" }); }
      }).addTo(api.map);
      if (layer.getLayers().length) api.map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 18 });
    }
    if (!navigator.geolocation) { setStatus(status, T.gps_denied, "muted"); return; }
    navigator.geolocation.watchPosition(function (pos) {
      var lat = pos.coords.latitude, lon = pos.coords.longitude, accuracy = pos.coords.accuracy;
      var metres = distanceToSite(shape, lat, lon);
      if (metres > CFG.off_site_metres) setStatus(status, fmt(T.away, { metres: Math.round(metres) }), "warn");
      else setStatus(status, fmt(T.on_site, { accuracy: Math.round(accuracy || 0) }), "ok");
      if (api) {
        var p = api.show(lat, lon), ll = window.L.latLng(p[0], p[1]);
        if (!marker) {
          circle = window.L.circle(ll, { radius: accuracy || 0, weight: 1, color: "#12355b", fillOpacity: 0.1, interactive: false }).addTo(api.map);
          marker = window.L.circleMarker(ll, { radius: 7, color: "#fff", weight: 2, fillColor: "#1a73e8", fillOpacity: 1 }).addTo(api.map);
        } else { marker.setLatLng(ll); circle.setLatLng(ll); circle.setRadius(accuracy || 0); }
      }
      onPosition({ lat: lat, lon: lon, accuracy_m: accuracy == null ? null : Math.round(accuracy * 10) / 10, at: nowIso() });
    }, function () {
      setStatus(status, T.gps_denied, "muted");
    }, { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
  }

  // ---- the form (/inspect/<location>/) --------------------------------------------------------------

  function initLocation() {
    var form = document.getElementById("inspect-form");
    var sendStatus = document.getElementById("send-status");
    var lastPosition = null, draft = null;
    var restored = false;

    if (!form) {  // inspected already: still send what waits on this phone
      setupMap(noop);
      keepTrying(null, null);
      return;
    }
    var draftStatus = document.getElementById("draft-status");
    var scoreLine = document.getElementById("score-line");
    var submit = document.getElementById("submit-visit");
    var discard = document.getElementById("discard-draft");
    var storageOk = true;

    function fresh() {
      var d = { key: draftKey(CFG.location), user: CFG.user, location: CFG.location, client_uuid: null,
        site_name: CFG.site_name, round_name: CFG.round_name, started_at: null, updated_at: null,
        status: "editing", error: "", items: {}, rechecks: {}, photos: [], note: "", position: null };
      CFG.items.forEach(function (it) { d.items[it.id] = { occurrences: 0, veto_hit: false, not_applicable: false, note: "", description: "" }; });
      CFG.findings.forEach(function (f) { d.rechecks[f.id] = { recurred: null, note: "" }; });
      return d;
    }
    function started() {
      if (!draft.client_uuid) { draft.client_uuid = uuid4(); draft.started_at = nowIso(); }
      if (!draft.position && lastPosition) draft.position = lastPosition;
    }
    function save() {
      started();
      draft.updated_at = nowIso();
      discard.hidden = false;
      if (!storageOk) return Promise.resolve();
      return putDraft(draft).then(function () {
        if (draft.status === "editing") setStatus(draftStatus, T.saved, "muted");
      }, function () { storageOk = false; setStatus(draftStatus, T.storage_unavailable, "error"); });
    }

    // DOM ↔ draft
    function cards(selector) { return Array.prototype.slice.call(form.querySelectorAll(selector)); }
    function field(card, name) { return card.querySelector('[data-field="' + name + '"]'); }
    function read() {
      cards("article.item").forEach(function (card) {
        var a = draft.items[card.dataset.item];
        if (!a) return;
        var n = field(card, "occurrences"), veto = field(card, "veto_hit"), na = field(card, "not_applicable");
        a.not_applicable = !!(na && na.checked);
        var count = n ? parseInt(n.value, 10) : 0;
        a.occurrences = a.not_applicable || !isFinite(count) ? 0 : Math.max(0, Math.min(999, count));
        a.veto_hit = !a.not_applicable && !!(veto && veto.checked);
        a.note = field(card, "note").value;
        a.description = field(card, "description").value;
      });
      cards("article.finding").forEach(function (card) {
        var r = draft.rechecks[card.dataset.finding];
        if (!r) return;
        var chosen = card.querySelector('[data-field="recurred"]:checked');
        r.recurred = chosen ? chosen.value === "recurred" : null;
        r.note = field(card, "note").value;
      });
      draft.note = form.querySelector('[data-visit-field="note"]').value;
    }
    function apply() {
      cards("article.item").forEach(function (card) {
        var a = draft.items[card.dataset.item];
        if (!a) return;
        var n = field(card, "occurrences"), veto = field(card, "veto_hit"), na = field(card, "not_applicable");
        if (n) n.value = a.occurrences || 0;
        if (veto) veto.checked = !!a.veto_hit;
        if (na) na.checked = !!a.not_applicable;
        field(card, "note").value = a.note || "";
        field(card, "description").value = a.description || "";
        if (a.note || a.description) card.querySelector("details.more").open = true;
      });
      cards("article.finding").forEach(function (card) {
        var r = draft.rechecks[card.dataset.finding];
        if (!r) return;
        card.querySelectorAll('[data-field="recurred"]').forEach(function (radio) {
          radio.checked = r.recurred === true ? radio.value === "recurred" : r.recurred === false ? radio.value === "fixed" : false;
        });
        field(card, "note").value = r.note || "";
      });
      form.querySelector('[data-visit-field="note"]').value = draft.note || "";
    }

    var previewUrls = [];
    function renderPhotos() {
      previewUrls.forEach(function (u) { URL.revokeObjectURL(u); });
      previewUrls = [];
      cards("[data-photos-for]").forEach(function (box) {
        var list = box.querySelector("[data-previews]"), kind = box.dataset.photosFor, target = Number(box.dataset.photosId);
        list.textContent = "";
        draft.photos.filter(function (p) { return p.kind === kind && p.target === target; }).forEach(function (p) {
          var li = document.createElement("li");
          var img = document.createElement("img");
          img.alt = p.name || "";
          li.appendChild(img);
          getPhoto(p.pid).then(function (rec) {
            if (rec && rec.blob) { var u = URL.createObjectURL(rec.blob); previewUrls.push(u); img.src = u; }
          }).catch(noop);
          var remove = document.createElement("button");
          remove.type = "button"; remove.className = "link small"; remove.textContent = T.remove_photo;
          remove.addEventListener("click", function () {
            draft.photos = draft.photos.filter(function (x) { return x.pid !== p.pid; });
            deletePhoto(p.pid).catch(noop);
            save(); renderPhotos();
          });
          li.appendChild(remove);
          list.appendChild(li);
        });
      });
    }

    function render() {
      form.classList.toggle("draft-waiting", draft.status === "waiting");
      cards("article.item").forEach(function (card) {
        var a = draft.items[card.dataset.item] || {};
        card.classList.toggle("is-na", !!a.not_applicable);
        card.querySelectorAll('[data-field="occurrences"], [data-field="veto_hit"], .step').forEach(function (el) { el.disabled = !!a.not_applicable; });
      });
      if (!CFG.lookback) {
        var s = score(CFG.items, draft.items);
        cards("article.item").forEach(function (card) {
          var r = s.items[card.dataset.item] || {};
          var out = card.querySelector("[data-result]");
          out.textContent = r.hit ? T.veto : r.ded ? fmt(T.deduction, { points: money(r.ded) }) : "";
          card.classList.toggle("is-found", !!(r.hit || r.ded));
        });
        scoreLine.textContent = s.score == null ? T.score_none : fmt(T.score, { score: money(s.score) });
      } else {
        cards("article.finding").forEach(function (card) {
          var r = draft.rechecks[card.dataset.finding] || {};
          card.classList.toggle("is-found", r.recurred === true);
        });
      }
    }

    function changed() { read(); render(); save(); }
    var typing = null;
    form.addEventListener("input", function (e) {
      if (e.target.tagName === "TEXTAREA") {
        window.clearTimeout(typing);
        typing = window.setTimeout(changed, 300);
      } else if (e.target.dataset.field === "occurrences") changed();
    });
    form.addEventListener("change", function (e) {
      if (e.target.matches("[data-photo-input]")) return;
      if (e.target.dataset.field === "not_applicable" && e.target.checked) {
        var card = e.target.closest("article");
        var n = field(card, "occurrences"), veto = field(card, "veto_hit");
        if (n) n.value = 0;
        if (veto) veto.checked = false;
      }
      changed();
    });
    form.addEventListener("click", function (e) {
      var button = e.target.closest("button.step");
      if (!button) return;
      var input = field(button.closest(".stepper"), "occurrences");
      var value = (parseInt(input.value, 10) || 0) + Number(button.dataset.step);
      input.value = Math.max(0, Math.min(999, value));
      changed();
    });
    cards("[data-photo-input]").forEach(function (input) {
      input.addEventListener("change", function () {
        var box = input.closest("[data-photos-for]");
        var files = Array.prototype.slice.call(input.files || []);
        if (!files.length) return;
        read();
        started();
        var adds = files.map(function (file) {
          var meta = { pid: uuid4(), kind: box.dataset.photosFor, target: Number(box.dataset.photosId), name: file.name || "photo.jpg" };
          draft.photos.push(meta);
          return putPhoto({ pid: meta.pid, draft: draft.key, blob: file, name: meta.name, type: file.type || "image/jpeg" });
        });
        input.value = "";
        Promise.all(adds).catch(function () { storageOk = false; setStatus(draftStatus, T.storage_unavailable, "error"); })
          .then(function () { return save(); }).then(renderPhotos);
      });
    });
    discard.addEventListener("click", function () {
      if (!window.confirm(T.discard_confirm)) return;
      deleteDraft(draft).catch(noop).then(function () {
        draft = fresh(); discard.hidden = true; apply(); render(); renderPhotos();
        setStatus(draftStatus, ""); setStatus(sendStatus, "");
      });
    });

    function missingEvidence() {
      if (CFG.lookback) {
        var open = CFG.findings.filter(function (f) { return draft.rechecks[f.id].recurred === null; });
        if (open.length) return { text: T.choose_recheck, target: "finding-" + open[0].id };
        var short = CFG.findings.filter(function (f) {
          var n = draft.photos.filter(function (p) { return p.kind === "finding" && p.target === f.id; }).length;
          return draft.rechecks[f.id].recurred === true && n < f.photos_required;
        });
        if (short.length) return { text: fmt(T.photos_needed, { item: short[0].label, count: short[0].photos_required }), target: "finding-" + short[0].id };
        return null;
      }
      var s = score(CFG.items, draft.items);
      for (var i = 0; i < CFG.items.length; i++) {
        var it = CFG.items[i], r = s.items[it.id] || {};
        if (!(r.ded || r.hit) || !it.photos_required) continue;
        var n = draft.photos.filter(function (p) { return p.kind === "item" && p.target === it.id; }).length;
        if (n < it.photos_required) return { text: fmt(T.photos_needed, { item: it.label, count: it.photos_required }), target: "item-" + it.id };
      }
      return null;
    }

    function showOutcome(result) {
      setStatus(sendStatus, outcomeText(result), KIND[result.outcome]);
      if (result.outcome === "sent") {
        draft = null;
        form.hidden = true;
        setStatus(draftStatus, "");
        var done = document.createElement("p");
        var back = document.createElement("a");
        back.href = CFG.home_url; back.className = "button"; back.textContent = "← " + document.querySelector(".back a").textContent.replace(/^←\s*/, "");
        done.appendChild(back);
        form.parentNode.insertBefore(done, form.nextSibling);
        form.parentNode.insertBefore(sendStatus, done);
      } else if (result.outcome === "refused" && result.body && result.body.field) {
        var m = /^(item|finding)_(\d+)$/.exec(result.body.field);
        var card = m && document.getElementById(m[1] + "-" + m[2]);
        if (card) card.classList.add("has-error");
      }
      if (draft) render();
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!draft) return;
      read();
      cards(".has-error").forEach(function (c) { c.classList.remove("has-error"); });
      var missing = missingEvidence();
      if (missing) {
        setStatus(sendStatus, missing.text, "error");
        var card = document.getElementById(missing.target);
        if (card) { card.classList.add("has-error"); card.scrollIntoView({ block: "center" }); }
        return;
      }
      started();
      if (lastPosition) draft.position = lastPosition;
      draft.updated_at = nowIso();
      draft.recorded_at = draft.updated_at;
      submit.disabled = true;
      setStatus(sendStatus, T.sending);
      send(draft).then(function (result) {
        submit.disabled = false;
        showOutcome(result);
      });
    });

    setupMap(function (position) {
      lastPosition = position;
      if (draft && draft.client_uuid && draft.status !== "waiting") { draft.position = position; }
    });

    getDraft(CFG.location).then(function (stored) {
      draft = stored || fresh();
      restored = !!stored;
    }, function () {
      storageOk = false;
      draft = fresh();
      setStatus(draftStatus, T.storage_unavailable, "error");
    }).then(function () {
      apply();
      render();
      renderPhotos();
      if (restored) {
        discard.hidden = false;
        setStatus(draftStatus, fmt(T.restored, { time: new Date(draft.updated_at || draft.started_at || Date.now()).toLocaleString() }), "muted");
        if (draft.status === "waiting") setStatus(sendStatus, T.waiting, "waiting");
        if (draft.status === "refused" && draft.error) setStatus(sendStatus, fmt(T.refused, { message: draft.error }), "error");
      }
      form.classList.add("is-ready");
      keepTrying(function (stored) { return draft && stored.key === draft.key ? draft : null; }, function (d, result) {
        if (draft && d.key === draft.key) showOutcome(result);
      });
    });
  }

  registerWorker();
  var page = document.querySelector("[data-page]");
  var start = function () {
    forgetOnLogout();
    if (!page) return;
    if (page.dataset.page === "home") initHome();
    else if (page.dataset.page === "location") initLocation();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
