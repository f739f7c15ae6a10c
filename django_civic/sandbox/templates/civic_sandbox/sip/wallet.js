/* django_civic sandbox wallet: the page civic.sip.js frames in its modal, standing in for Civic's app.
 *
 * Protocol with the page (as Civic's iframe): post "hostedscoperequest:loaded"; receive
 * "qrCode:scopeOptions" with {appId, verificationLevel | attributes, uuid?}; post "scoperequest:read" once
 * the request is shown; on approve post {event: "scoperequest:data-received", type: "code", response}; on
 * deny post "scoperequest:user-cancelled". Replies go only to the origin that sent the options.
 * Opened directly (not framed), it reads appId and scopeRequest from its query string and shows the code.
 */
(function () {
  "use strict";

  var LABELS = {
    "contact.personal.email": "Email address",
    "contact.personal.phoneNumber": "Phone number",
    "verifications.levels.CIVIC:IAL1": "Verification level (CIVIC:IAL1)",
    "documents.genericId.type": "ID document type",
    "documents.genericId.number": "ID document number",
    "documents.genericId.name": "Name on the ID document",
    "documents.genericId.dateOfBirth": "Date of birth",
    "documents.genericId.dateOfIssue": "Date of issue",
    "documents.genericId.dateOfExpiry": "Date of expiry",
    "documents.genericId.image": "Image of the ID document",
    "documents.genericId.image_md5": "Checksum of the image",
    "documents.genericId.country": "Issuing country"
  };

  var framed = window.parent !== window;
  var parentOrigin = null;
  var request = null;
  var chosen = null;
  var busy = false;
  var byId = function (id) { return document.getElementById(id); };

  function show(id, visible) { byId(id).hidden = !visible; }
  function status(text) { byId("status").textContent = text; }
  function fail(text) {
    byId("error").textContent = text;
    show("error", true);
  }

  function send(message) {
    if (framed && parentOrigin) {
      // "null" (sandboxed or file: pages) cannot be a target origin; such a page gets "*".
      window.parent.postMessage(message, parentOrigin === "null" ? "*" : parentOrigin);
    }
  }

  function api(path, body) {
    return window.fetch(path, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
      credentials: "omit"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.message || ("The sandbox answered " + response.status));
        }
        return data;
      });
    });
  }

  function requestBody(extra) {
    var body = {appId: request.appId};
    if (request.attributes) { body.attributes = request.attributes; }
    else { body.verificationLevel = request.verificationLevel; }
    for (var key in extra) { body[key] = extra[key]; }
    return body;
  }

  function missingText(labels) {
    var names = labels.map(function (l) { return LABELS[l] || l; });
    return "no verified " + (names.length > 2 ? names.slice(0, 2).join(", ") + " and " + (names.length - 2) +
      " more" : names.join(", "));
  }

  function renderPersonas(personas) {
    var box = byId("personas");
    box.textContent = "";
    personas.forEach(function (persona) {
      var label = document.createElement("label");
      label.className = "persona" + (persona.eligible ? "" : " ineligible");
      var input = document.createElement("input");
      input.type = "radio";
      input.name = "persona";
      input.value = persona.name;
      input.disabled = !persona.eligible;
      input.setAttribute("data-testid", "sandbox-persona-" + persona.name);
      input.addEventListener("change", function () {
        chosen = persona.name;
        byId("approve").disabled = busy;
      });
      var text = document.createElement("span");
      var title = document.createElement("strong");
      title.textContent = persona.title + " (" + persona.name + ")";
      var note = document.createElement("small");
      note.textContent = persona.eligible ? persona.description : "Cannot approve: " + missingText(persona.missing);
      text.appendChild(title);
      text.appendChild(note);
      label.appendChild(input);
      label.appendChild(text);
      box.appendChild(label);
      if (persona.eligible && chosen === null) {
        input.checked = true;
        chosen = persona.name;
      }
    });
    byId("approve").disabled = chosen === null;
  }

  function start(options) {
    request = options || {};
    status("Loading the request\u2026");
    api("preview", requestBody({})).then(function (preview) {
      byId("app-name").textContent = preview.app.name ? preview.app.name + " (" + preview.app.appId + ")"
        : preview.app.appId;
      byId("scope-description").textContent = preview.scope.description;
      var list = byId("labels");
      list.textContent = "";
      preview.scope.labels.forEach(function (l) {
        var item = document.createElement("li");
        item.textContent = LABELS[l] || l;
        item.title = l;  // the label as Civic sends it
        item.setAttribute("data-label", l);
        list.appendChild(item);
      });
      if (request.uuid) {
        byId("uuid-note").textContent = "Continuing the request " + request.uuid + " from the Civic app.";
        show("uuid-note", true);
      }
      renderPersonas(preview.personas);
      show("request", true);
      status(chosen === null ? "No sandbox persona can approve this request." : "Choose a persona, then approve.");
      document.querySelector("main").setAttribute("aria-busy", "false");
      send({event: "scoperequest:read", clientVersion: "v3"});
    }).catch(function (error) {
      status("This request cannot be approved.");
      fail(error.message);
      document.querySelector("main").setAttribute("aria-busy", "false");
      send({event: "civic-sip-error", type: "runtime-error", message: error.message});
    });
  }

  byId("approve").addEventListener("click", function () {
    if (!request || chosen === null || busy) { return; }
    busy = true;
    byId("approve").disabled = true;
    show("error", false);
    status("Approving\u2026");
    api("approve", requestBody({persona: chosen})).then(function (data) {
      status("Approved. You can close this window.");
      if (framed) {
        send({event: "scoperequest:data-received", type: "code", response: data.authToken});
      } else {
        byId("token").value = data.authToken;
        show("token-box", true);
        byId("token-box").open = true;
      }
    }).catch(function (error) {
      busy = false;
      byId("approve").disabled = false;
      status("Approval failed.");
      fail(error.message);
    });
  });

  byId("deny").addEventListener("click", function () {
    status("Denied.");
    byId("approve").disabled = true;
    send({event: "scoperequest:user-cancelled"});
  });

  if (framed) {
    window.addEventListener("message", function (event) {
      var message = event.data;
      if (event.source !== window.parent || !message || message.event !== "qrCode:scopeOptions") { return; }
      if (parentOrigin !== null) { return; }  // one request per frame, from the page that framed us
      parentOrigin = event.origin;
      start(message.options);
    });
    window.parent.postMessage({event: "hostedscoperequest:loaded", sourceType: "sip"}, "*");
  } else {
    var query = new URLSearchParams(window.location.search);
    var level = query.get("scopeRequest") || "civicBasic";
    start(level === "civicBasic"
      ? {appId: query.get("appId"), attributes: ["contact.personal.email", "contact.personal.phoneNumber"]}
      : {appId: query.get("appId"), verificationLevel: level});
  }
}());
