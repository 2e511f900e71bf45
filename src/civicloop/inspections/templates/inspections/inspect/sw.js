/* civicloop: the service worker of the inspection pages (scope {{ scope }}).
 *
 * It keeps a copy of every page under {{ scope }} the inspector opened, and of the scripts
 * and styles they use, so that a page can be reopened without a connection. Drafts are not
 * kept here but in IndexedDB by inspect.js; submissions (POST) pass straight through.
 * Pages and assets: network first (always the current version when online), the copy when
 * the network fails or takes longer than a few seconds.
 */
"use strict";
var CACHE = "civicloop-inspect-v1";
var SCOPE = "{{ scope|escapejs }}";
var ASSETS = [{% for url in assets %}"{{ url|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];
var TIMEOUT_MS = 4000;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE)
      .then(function (cache) { return cache.addAll(ASSETS); })
      .catch(function () {})  // an asset missing now is fetched and kept later
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf("civicloop-inspect-") === 0 && k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function keepable(request, response) {
  // Only a real page or asset: not a redirect to the login page, not an error.
  return response && response.ok && response.type === "basic" && !response.redirected;
}

function networkFirst(request) {
  return caches.open(CACHE).then(function (cache) {
    var network = fetch(request).then(function (response) {
      if (keepable(request, response)) cache.put(request, response.clone());
      return response;
    });
    var fallback = new Promise(function (resolve) {
      setTimeout(function () { resolve(null); }, TIMEOUT_MS);
    }).then(function () { return cache.match(request, { ignoreVary: true }); });
    // The network's answer; the copy if the network fails, or if it is slow and a copy exists.
    return Promise.race([
      network.catch(function () { return null; }),
      fallback,
    ]).then(function (first) {
      if (first) return first;
      return cache.match(request, { ignoreVary: true }).then(function (copy) {
        return copy || network;
      });
    });
  });
}

function isAsset(url) { return ASSETS.indexOf(new URL(url).pathname) !== -1; }

// The pages tell the worker who is logged in and which pages to keep for going out without a
// connection (the list and every location still to inspect). Another person's pages are
// dropped as soon as a page of someone else is opened on this browser.
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep") return;
  var user = String(data.user || "");
  var urls = (data.urls || []).filter(function (u) {
    try { var url = new URL(u, self.location.origin); return url.origin === self.location.origin && url.pathname.indexOf(SCOPE) === 0; }
    catch (e) { return false; }
  });
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    var owner = new Request(SCOPE + "__owner__");
    return cache.match(owner).then(function (stored) { return stored ? stored.text() : ""; }).then(function (previous) {
      var forget = previous && previous !== user
        ? cache.keys().then(function (keys) {
            return Promise.all(keys.filter(function (r) { return !isAsset(r.url); }).map(function (r) { return cache.delete(r); }));
          })
        : Promise.resolve();
      return forget.then(function () { return cache.put(owner, new Response(user)); });
    }).then(function () {
      return Promise.all(urls.map(function (u) {
        return fetch(u, { credentials: "same-origin" }).then(function (response) {
          if (keepable(null, response)) return cache.put(u, response);
        }).catch(function () {});
      }));
    });
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var page = request.mode === "navigate" && url.pathname.indexOf(SCOPE) === 0 && url.pathname !== SCOPE + "sw.js" &&
    url.pathname !== SCOPE + "__owner__";
  if (page || ASSETS.indexOf(url.pathname) !== -1) event.respondWith(networkFirst(request));
});
