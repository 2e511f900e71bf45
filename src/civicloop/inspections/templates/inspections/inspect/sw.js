/* civicloop: the service worker of the inspection pages (scope {{ scope }}).
 *
 * It keeps a copy of every page under {{ scope }} the inspector opened, and of the scripts
 * and styles they use, so that a page can be reopened without a connection. Drafts are not
 * kept here but in IndexedDB by inspect.js; submissions (POST) pass straight through.
 * Pages and assets: network first, always. The copy is used only when the request fails
 * (no connection, a network error), never because the network is slow: on a shared phone
 * an online request must show what the server says now, to whoever is logged in now.
 *
 * The pages kept are one person's: each page names its user (header X-Inspect-User), and a
 * page of another person drops the copies first. A page that sends to the login page (nobody
 * is logged in), and logging out from a page of {{ scope }} (inspect.js), drop them too.
 */
"use strict";
var CACHE = "civicloop-inspect-v1";
var SCOPE = "{{ scope|escapejs }}";
var ASSETS = [{% for url in assets %}"{{ url|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];
var OWNER = SCOPE + "__owner__";
var USER_HEADER = "X-Inspect-User";

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

// Changes to the cache one after the other, so that dropping one person's pages never
// overlaps with keeping the next person's.
var queue = Promise.resolve();
function serially(fn) {
  var next = queue.then(fn, fn);
  queue = next.catch(function () {});
  return next;
}

function keepable(response) {
  // Only a real page or asset: not a redirect to the login page, not an error.
  return response && response.ok && response.type === "basic" && !response.redirected;
}

function isAsset(url) { return ASSETS.indexOf(new URL(url, self.location.origin).pathname) !== -1; }

// Every page kept (not the scripts and styles), and whose they were.
function forgetPages(cache) {
  return cache.keys().then(function (keys) {
    return Promise.all(keys.filter(function (r) { return !isAsset(r.url); }).map(function (r) { return cache.delete(r); }));
  });
}

// The copies are ``user``'s from now on: another person's are dropped first.
function ownedBy(cache, user) {
  return cache.match(OWNER).then(function (stored) { return stored ? stored.text() : ""; }).then(function (previous) {
    if (previous === user) return;
    return forgetPages(cache).then(function () { return cache.put(OWNER, new Response(user)); });
  });
}

// What the network answered for a page: keep it for its user, or drop what no longer stands.
function remember(request, response) {
  return serially(function () {
    return caches.open(CACHE).then(function (cache) {
      if (response.type === "opaqueredirect" || response.redirected) return forgetPages(cache);  // to log in
      // Gone, or not yours: the copy goes too (a server error leaves it, for going offline).
      if (response.status === 403 || response.status === 404) return cache.delete(request, { ignoreVary: true });
      var user = response.headers.get(USER_HEADER);
      if (!keepable(response) || !user) return;
      return ownedBy(cache, user).then(function () { return cache.put(request, response); });
    });
  });
}

function copyOf(request, error) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request, { ignoreVary: true });
  }).then(function (copy) {
    if (copy) return copy;
    throw error;
  });
}

function fromNetwork(event, isPage) {
  var request = event.request;
  return fetch(request).then(function (response) {
    var copy = response.clone();
    if (isPage) event.waitUntil(remember(request, copy));
    else if (keepable(response)) event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.put(request, copy); }));
    return response;
  }, function (error) {
    return copyOf(request, error);  // no connection: the copy, if there is one
  });
}

// The pages tell the worker who is logged in and which pages to keep for going out without a
// connection (the list and every location still to inspect); "forget" when logging out.
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "forget") {
    event.waitUntil(serially(function () { return caches.open(CACHE).then(forgetPages); }));
    return;
  }
  if (data.type !== "keep") return;
  var user = String(data.user || "");
  if (!user) return;
  var urls = (data.urls || []).filter(function (u) {
    try { var url = new URL(u, self.location.origin); return url.origin === self.location.origin && url.pathname.indexOf(SCOPE) === 0; }
    catch (e) { return false; }
  });
  event.waitUntil(serially(function () {
    return caches.open(CACHE).then(function (cache) {
      return ownedBy(cache, user).then(function () {
        return Promise.all(urls.map(function (u) {
          return fetch(u, { credentials: "same-origin" }).then(function (response) {
            // Only this user's page: the login may have changed since the page was shown.
            if (keepable(response) && response.headers.get(USER_HEADER) === user) return cache.put(u, response);
          }).catch(function () {});
        }));
      });
    });
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var page = request.mode === "navigate" && url.pathname.indexOf(SCOPE) === 0 && url.pathname !== SCOPE + "sw.js" &&
    url.pathname !== OWNER;
  if (page || ASSETS.indexOf(url.pathname) !== -1) event.respondWith(fromNetwork(event, page));
});
