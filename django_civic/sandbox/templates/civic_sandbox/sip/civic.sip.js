/*!
 * django_civic sandbox: a stand-in for Civic's civic.sip.js (civic-protocols.md A8). Not Civic's code.
 *
 * Same global (civic.sip), methods (signup, login, ready, injectButton), ScopeRequests names and wire
 * values, emitter API and events (auth-code-received, user-cancelled, read, civic-sip-error) as Civic's
 * build, and the same modal DOM. Its iframe is the sandbox wallet instead of Civic's QR-code page.
 * Unlike Civic's build, messages are only accepted from the wallet's frame and origin, and messages to
 * the wallet are addressed to its origin instead of "*".
 */
(function (root, factory) {
  "use strict";
  var CivicSip = factory(root);
  if (typeof module === "object" && module && module.exports) {
    module.exports = CivicSip;
  }
  root.civic = root.civic || {};
  root.civic.sip = CivicSip;
}(typeof self !== "undefined" ? self : this, function (window) {
  "use strict";

  // The base URL this script was served from; the sandbox writes it in when serving the file.
  var SANDBOX_BASE = __CIVIC_SANDBOX_BASE_URL__;
  var BASIC_ATTRIBUTES = ["contact.personal.email", "contact.personal.phoneNumber"];
  var SCOPE_REQUESTS = {
    ANONYMOUS_LOGIN: "Anonymous_Login",
    BASIC_LOGIN: "Login",
    BASIC_SIGNUP: "civicBasic",
    CIVIC_BASIC: "civicBasic",
    LEGAL: "Legal",
    ID_VERIFICATION: "id_verification",
    PASSPORT: "passport",
    DRIVER_LICENSE: "driversLicense",
    PROOF_OF_RESIDENCE: "proofOfResidence",
    PROOF_OF_IDENTITY: "proofOfIdentity",
    PROOF_OF_AGE: "proofOfAge"
  };

  // -- component-emitter's API ------------------------------------------------------------------------

  function Emitter() {}

  Emitter.prototype.on = Emitter.prototype.addEventListener = function (event, fn) {
    this._callbacks = this._callbacks || {};
    (this._callbacks["$" + event] = this._callbacks["$" + event] || []).push(fn);
    return this;
  };

  Emitter.prototype.once = function (event, fn) {
    function on() {
      this.off(event, on);
      fn.apply(this, arguments);
    }
    on.fn = fn;
    this.on(event, on);
    return this;
  };

  Emitter.prototype.off =
  Emitter.prototype.removeListener =
  Emitter.prototype.removeAllListeners =
  Emitter.prototype.removeEventListener = function (event, fn) {
    this._callbacks = this._callbacks || {};
    if (arguments.length === 0) {
      this._callbacks = {};
      return this;
    }
    var callbacks = this._callbacks["$" + event];
    if (!callbacks) {
      return this;
    }
    if (arguments.length === 1) {
      delete this._callbacks["$" + event];
      return this;
    }
    for (var i = 0; i < callbacks.length; i++) {
      if (callbacks[i] === fn || callbacks[i].fn === fn) {
        callbacks.splice(i, 1);
        break;
      }
    }
    if (callbacks.length === 0) {
      delete this._callbacks["$" + event];
    }
    return this;
  };

  Emitter.prototype.emit = function (event) {
    this._callbacks = this._callbacks || {};
    var args = Array.prototype.slice.call(arguments, 1);
    var callbacks = this._callbacks["$" + event];
    if (callbacks) {
      callbacks = callbacks.slice(0);
      for (var i = 0; i < callbacks.length; i++) {
        callbacks[i].apply(this, args);
      }
    }
    return this;
  };

  Emitter.prototype.listeners = function (event) {
    this._callbacks = this._callbacks || {};
    return this._callbacks["$" + event] || [];
  };

  Emitter.prototype.hasListeners = function (event) {
    return this.listeners(event).length > 0;
  };

  // -- civic.sip --------------------------------------------------------------------------------------

  function withSlash(url) {
    return url.charAt(url.length - 1) === "/" ? url : url + "/";
  }

  function onReady(callback) {
    if (window.document.readyState === "loading") {
      window.document.addEventListener("DOMContentLoaded", function () { callback(); });
    } else {
      window.setTimeout(callback, 0);
    }
  }

  function CivicSip(config) {
    if (!(this instanceof CivicSip)) {
      return new CivicSip(config);
    }
    config = config || {};
    if (!config.appId) {
      throw new Error("config-missing-app-id");
    }
    this.config = {
      appId: config.appId,
      stage: config.stage || "prod",
      api: withSlash(config.api || SANDBOX_BASE + "sip/"),
      url: config.url || SANDBOX_BASE + "sip/wallet/",
      version: config.version,
      cors: config.cors,
      timeout: config.timeout || 60000,
      parent: true,
      parentVersion: "1.0"
    };
    this._frameOrigin = new window.URL(this.config.url, window.location.href).origin;
    this._frame = null;
    this._modal = null;
    this._options = null;
    this._loadTimer = null;
    this._onMessage = this._handleMessage.bind(this);
    window.addEventListener("message", this._onMessage);
    this._checkUuid();
  }

  CivicSip.prototype = Object.create(Emitter.prototype);
  CivicSip.prototype.constructor = CivicSip;
  CivicSip.prototype.ScopeRequests = SCOPE_REQUESTS;
  CivicSip.ScopeRequests = SCOPE_REQUESTS;
  CivicSip.sandbox = {baseUrl: SANDBOX_BASE};

  CivicSip.prototype.ready = function (callback) {
    onReady(callback);
  };

  CivicSip.prototype.signup = function (opts) {
    return this.login(opts);
  };

  CivicSip.prototype.login = function (opts) {
    opts = opts || {};
    var options = {
      appId: this.config.appId,
      isMobile: this._isMobile(),
      api: this.config.api + this.config.stage + "/" + (this.config.version ? this.config.version + "/" : "") +
        "scopeRequest"
    };
    if (opts.scopeRequest === SCOPE_REQUESTS.BASIC_SIGNUP) {
      options.attributes = BASIC_ATTRIBUTES.slice(0);
    } else if (Array.isArray(opts.scopeRequests)) {
      options.attributes = opts.scopeRequests.slice(0);
    } else if (opts.scopeRequest) {
      options.verificationLevel = opts.scopeRequest;
    } else {
      options.attributes = BASIC_ATTRIBUTES.slice(0);
    }
    if (this._uuid) {
      options.uuid = this._uuid;
    }
    this._options = options;
    this._open();
  };

  CivicSip.prototype._isMobile = function () {
    var agent = (window.navigator.userAgent || "").toLowerCase();
    return agent.indexOf("mobile") !== -1 && agent.indexOf("ipad") === -1;
  };

  // Like SIPJS checkUuid: the Civic app reopens the page with ?uuid=...; continue that request.
  CivicSip.prototype._checkUuid = function () {
    var match = /[?&]uuid=([^&#]*)/.exec(window.location.search || "");
    if (!match) {
      return;
    }
    var self = this;
    this._uuid = match[1];
    onReady(function () {
      self.login({style: "popup", scopeRequest: SCOPE_REQUESTS.BASIC_SIGNUP});
    });
  };

  CivicSip.prototype._buildModal = function () {
    var doc = window.document;
    var lights = doc.createElement("div");
    lights.className = "civic-lights-out";
    var modal = doc.createElement("div");
    modal.className = "civic-modal civic-qrcode";
    modal.setAttribute("role", "dialog");
    modal.setAttribute("aria-modal", "true");
    modal.setAttribute("aria-label", "Civic");
    var win = doc.createElement("div");
    win.className = "civic-window";
    var close = doc.createElement("button");
    close.type = "button";
    close.className = "civic-close";
    close.setAttribute("aria-label", "Close");
    close.textContent = "\u00d7";
    var self = this;
    close.addEventListener("click", function () {
      var message = {event: "scoperequest:user-cancelled"};
      self._close();
      self.emit("user-cancelled", message);
    });
    var content = doc.createElement("div");
    content.className = "civic-content";
    content.id = "civic-iframe-zone";
    win.appendChild(close);
    win.appendChild(content);
    modal.appendChild(win);
    doc.body.appendChild(lights);
    doc.body.appendChild(modal);
    this._lights = lights;
    this._modal = modal;
    this._zone = content;
  };

  CivicSip.prototype._open = function () {
    if (!this._modal) {
      this._buildModal();
    }
    this._removeFrame();
    var frame = window.document.createElement("iframe");
    frame.id = "civic-sr-frame";
    frame.title = "Civic";
    frame.style.height = "640px";
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.src = this.config.url;
    this._zone.appendChild(frame);
    this._frame = frame;
    this._modal.classList.add("civic-show");
    this._lights.classList.add("civic-show");
    window.document.body.classList.add("civic-hit-the-lights", "civic-no-scroll");
    var self = this;
    this._loadTimer = window.setTimeout(function () {
      self.emit("civic-sip-error", {type: "runtime-error", message: "The Civic window did not load in time."});
    }, this.config.timeout);
  };

  CivicSip.prototype._removeFrame = function () {
    window.clearTimeout(this._loadTimer);
    if (this._frame && this._frame.parentNode) {
      this._frame.parentNode.removeChild(this._frame);
    }
    this._frame = null;
  };

  CivicSip.prototype._close = function () {
    this._removeFrame();
    if (this._modal) {
      this._modal.classList.remove("civic-show");
      this._lights.classList.remove("civic-show");
    }
    window.document.body.classList.remove("civic-hit-the-lights", "civic-no-scroll");
  };

  CivicSip.prototype._post = function (message) {
    message.sourceType = "sip";
    this._frame.contentWindow.postMessage(message, this._frameOrigin);
  };

  CivicSip.prototype._handleMessage = function (event) {
    // Only our own wallet frame, from the wallet's origin, may drive this instance.
    if (!this._frame || event.source !== this._frame.contentWindow || event.origin !== this._frameOrigin) {
      return;
    }
    var message = event.data;
    if (!message || typeof message !== "object") {
      return;
    }
    switch (message.event) {
      case "hostedscoperequest:loaded":
        window.clearTimeout(this._loadTimer);
        this._post({event: "qrCode:scopeOptions", options: this._options});
        break;
      case "scoperequest:data-received":
      case "scoperequest:data-dispatched":
        if (message.type === "code") {
          this._close();
          this.emit("auth-code-received", message);
        } else {
          this.emit("civic-sip-error", {
            type: "data-error", message: "SIP server response type is unknown: " + message.type
          });
        }
        break;
      case "scoperequest:user-cancelled":
        this._close();
        this.emit("user-cancelled", message);
        break;
      case "scoperequest:read":
        this.emit("read", message);
        break;
      case "civic-sip-error":
        this.emit("civic-sip-error", {type: String(message.type || "runtime-error"), message: String(message.message)});
        break;
      default:
        break;
    }
  };

  // Civic's helper: a "Log in with Civic" link inside the first element matching parentSelector.
  CivicSip.injectButton = function (parentSelector, text) {
    var doc = window.document;
    var parent = doc.querySelector(parentSelector);
    if (!parent) {
      return null;
    }
    var link = doc.createElement("a");
    link.className = "civic-button-a";
    link.id = "show-qrcode";
    link.setAttribute("data-target", "#myModal");
    link.href = "#";
    var logo = doc.createElement("img");
    logo.className = "civic-logo";
    logo.alt = "";
    logo.src = SANDBOX_BASE + "sip/images/civic-mark.svg";
    var label = doc.createElement("span");
    label.className = "civic-login";
    label.textContent = text || "Log in with Civic";
    link.appendChild(logo);
    link.appendChild(label);
    parent.appendChild(link);
    return link;
  };

  CivicSip.Emitter = Emitter;
  return CivicSip;
}));
