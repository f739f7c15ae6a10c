/*
 * django_civic: wires the buttons rendered by {% civic_button %}. Plain ES5, no build step, no dependencies.
 *
 * Flow: click -> civic.sip signup({style: "popup", scopeRequest}) -> Civic's wallet -> "auth-code-received"
 * -> POST {token, scope, next} to the exchange URL (JSON, X-CSRFToken, same-origin credentials) -> follow
 * the safe "next" the server answers with. Cancel and error states are written to the button's status
 * region (role="status", aria-live) with the translated texts the template put in data-civic-text-*.
 *
 * Events (bubbling, on the button), for sites that want to handle the result themselves:
 *   civic:login   detail = the server's JSON body; cancelable: preventDefault() stops the redirect
 *                 (e.g. a single-page app keeping the DRF token or JWT pair of the token/jwt login modes)
 *   civic:cancel  the user closed or denied the request in Civic's wallet
 *   civic:error   detail = {status, error, detail} (status 0 for network errors and library errors)
 *
 * Mobile: Civic's app returns to this page in a new tab with ?uuid=...; civic.sip.js then resumes the
 * request by itself. The scope and next of the request started here are kept in localStorage so the
 * new tab posts the code with the same ones.
 */
(function () {
  "use strict";

  var PENDING_KEY = "django_civic:pending";
  var PENDING_MAX_AGE_MS = 30 * 60 * 1000; // a Civic auth code lives 30 minutes
  var clients = {}; // appId -> civic.sip instance, shared by all buttons of the page
  var active = null; // the button whose request is in flight

  function data(button, name) {
    return button.getAttribute("data-civic-" + name) || "";
  }

  function buttons() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-civic-button]"));
  }

  function setState(button, state, text) {
    var status = document.getElementById(button.getAttribute("aria-describedby") || "");
    if (status) {
      status.textContent = text || "";
      status.setAttribute("data-state", state);
    }
    var busy = state === "working" || state === "exchanging" || state === "success";
    button.setAttribute("data-civic-state", state);
    button.setAttribute("aria-busy", busy ? "true" : "false");
    button.disabled = busy;
  }

  function emit(button, name, detail, cancelable) {
    var event;
    if (typeof window.CustomEvent === "function") {
      event = new CustomEvent(name, {bubbles: true, cancelable: !!cancelable, detail: detail});
    } else {
      event = document.createEvent("CustomEvent");
      event.initCustomEvent(name, true, !!cancelable, detail);
    }
    return button.dispatchEvent(event);
  }

  function readCookie(name) {
    if (!name) return "";
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var pair = parts[i].replace(/^\s+/, "");
      if (pair.indexOf(name + "=") === 0) return decodeURIComponent(pair.slice(name.length + 1));
    }
    return "";
  }

  // The cookie is the freshest value (a login in another tab rotates it); the token rendered into the page
  // is the fallback when the cookie is HttpOnly or CSRF_USE_SESSIONS is on.
  function csrfToken(button) {
    return readCookie(data(button, "csrf-cookie")) || data(button, "csrf-token");
  }

  // --- pending request, for the mobile ?uuid= return ----------------------------------------------------

  function remember(button) {
    try {
      window.localStorage.setItem(PENDING_KEY, JSON.stringify({
        scope: data(button, "scope"), next: data(button, "next"), at: Date.now()
      }));
    } catch (e) { /* storage disabled: the mobile return falls back to the first button */ }
  }

  function forget() {
    try { window.localStorage.removeItem(PENDING_KEY); } catch (e) { /* ignore */ }
  }

  function pendingButton() {
    var pending = null;
    try { pending = JSON.parse(window.localStorage.getItem(PENDING_KEY) || "null"); } catch (e) { pending = null; }
    var all = buttons();
    if (pending && Date.now() - pending.at < PENDING_MAX_AGE_MS) {
      for (var i = 0; i < all.length; i++) {
        if (data(all[i], "scope") === pending.scope && data(all[i], "next") === pending.next) return all[i];
      }
      for (var j = 0; j < all.length; j++) {
        if (data(all[j], "scope") === pending.scope) return all[j];
      }
    }
    return all[0] || null;
  }

  function dropUuidFromUrl() {
    if (!/[?&]uuid=/.test(window.location.search) || !window.history || !window.history.replaceState) return;
    var query = window.location.search.slice(1).split("&").filter(function (part) {
      return part.indexOf("uuid=") !== 0;
    }).join("&");
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : "") + window.location.hash);
  }

  // --- the Civic library ---------------------------------------------------------------------------

  function libraryLoaded() {
    return typeof window.civic === "object" && window.civic !== null && typeof window.civic.sip === "function";
  }

  function client(appId) {
    if (!clients[appId]) {
      var sip = new window.civic.sip({appId: appId});
      sip.on("auth-code-received", function (event) { exchange(event && event.response); });
      sip.on("user-cancelled", cancelled);
      sip.on("civic-sip-error", function () { failed({status: 0, error: "civic_sip_error", detail: ""}); });
      clients[appId] = sip;
    }
    return clients[appId];
  }

  function start(button) {
    if (!libraryLoaded()) {
      setState(button, "error", data(button, "text-unavailable"));
      emit(button, "civic:error", {status: 0, error: "library_unavailable", detail: ""});
      return;
    }
    active = button;
    remember(button);
    setState(button, "working", data(button, "text-working"));
    var sip = client(data(button, "app-id"));
    var scope = data(button, "scope");
    sip.signup({style: "popup", scopeRequest: (sip.ScopeRequests && sip.ScopeRequests[scope]) || scope});
  }

  function cancelled() {
    var button = active || pendingButton();
    active = null;
    forget();
    dropUuidFromUrl();
    if (!button) return;
    setState(button, "cancelled", data(button, "text-cancelled"));
    emit(button, "civic:cancel", {});
  }

  function failed(problem) {
    var button = active || pendingButton();
    active = null;
    dropUuidFromUrl();
    if (!button) return;
    // The server's detail is translated and safe to show; the library's own messages are not shown.
    var text = problem.detail ? problem.detail : data(button, "text-error");
    setState(button, "error", text);
    emit(button, "civic:error", problem);
  }

  function exchange(token) {
    var button = active || pendingButton();
    if (!button) return;
    active = button;
    if (typeof token !== "string" || !token) {
      failed({status: 0, error: "invalid_token", detail: ""});
      return;
    }
    setState(button, "exchanging", data(button, "text-exchanging"));
    var body = {token: token, scope: data(button, "scope")};
    if (data(button, "next")) body.next = data(button, "next");
    window.fetch(data(button, "exchange-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken(button)},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (json) { return json; }, function () { return {}; }).then(function (json) {
        return {ok: response.ok, status: response.status, body: json || {}};
      });
    }).then(function (result) {
      if (!result.ok) {
        failed({status: result.status, error: result.body.error || "error", detail: result.body.detail || ""});
        return;
      }
      active = null;
      forget();
      dropUuidFromUrl();
      setState(button, "success", data(button, "text-success"));
      if (emit(button, "civic:login", result.body, true) && result.body.next) {
        window.location.assign(result.body.next);
      }
    }, function () {
      failed({status: 0, error: "network_error", detail: ""});
    });
  }

  // --- start-up ------------------------------------------------------------------------------------

  function init() {
    var all = buttons();
    all.forEach(function (button) {
      if (button.getAttribute("data-civic-ready")) return;
      button.setAttribute("data-civic-ready", "true");
      button.addEventListener("click", function (event) {
        event.preventDefault();
        start(button);
      });
    });
    // Back from Civic's mobile app: creating the client lets civic.sip.js resume the request itself.
    if (all.length && /[?&]uuid=/.test(window.location.search) && libraryLoaded()) {
      active = pendingButton();
      setState(active, "working", data(active, "text-working"));
      client(data(active, "app-id"));
    }
  }

  window.djangoCivic = {init: init};
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
