// Nobody is signed in on this page (e.g. right after logging out, from whichever page): the
// inspection pages a phone keeps for offline use (the service worker of /inspect/, see
// inspections/templates/inspections/inspect/sw.js) are dropped, so the next person on a shared
// phone cannot open them. Unsent drafts stay: they belong to their inspector.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.getRegistration("/inspect/").then(function (registration) {
    if (registration && registration.active) registration.active.postMessage({ type: "forget" });
  }).catch(function () {});
})();
