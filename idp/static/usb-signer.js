/* Certificate sign-in with a USB token ("USB ký số", reference pki.md §2): the page talks to
   VNPT's signing plugin on the citizen's own PC over a local websocket, has it sign the
   server's challenge with the token's key, and posts the certificate and the signature.
   A separate file because the site's CSP forbids inline scripts; plain ES2017, no build step.

   Form contract (the template provides all of it; this file holds no user-facing text):
     <form method="post" data-usb-signer
           data-challenge="<Base64 of the challenge bytes the server will verify>"
           data-usb-host="localhost"            optional; the real plugin listens on localhost
           data-usb-ports="4433 4434 4435"      optional; tried in turn
           data-usb-scheme="wss"                optional; "ws" only for tests on plain http
           data-usb-timeout="3000"              optional; ms per port (open + checkPlugin)
           data-usb-sign-timeout="120000"       optional; ms for the chooser and PIN dialogs
           data-usb-license="<Base64 licence>"  optional; sent with setLicenseKey first
           data-msg-working="…"                 shown while the plugin works
           data-msg-unavailable="…"             plugin not installed / not running
           data-msg-nocert="…"                  no certificate chosen or readable (code 2)
           data-msg-cancelled="…"               the citizen cancelled (code 11)
           data-msg-nokey="…"                   certificate without private key (code 4)
           data-msg-failed="…">                 anything else (code 3, bad replies, …);
                                                also the fallback for a missing data-msg-*
       <input type="hidden" name="csrf_token" …>
       <input type="hidden" name="certificate">  filled: Base64 DER certificate (getCertInfo)
       <input type="hidden" name="signature">    filled: Base64 DER CMS SignedData (SignCMS)
       <p data-usb-status role="status" hidden></p>   receives the message; its
                                                 data-usb-message attribute names the id
       <button type="submit">…</button>
     </form>
   On submit the script runs checkPlugin -> [setLicenseKey] -> getCertInfo -> SignCMS, fills
   the two fields and submits the form itself (HTMLFormElement.submit: the button's own
   name/value is not sent). The Content-Security-Policy must allow connect-src to
   wss://<host>:<each port>.

   For the template author: without JavaScript nothing can reach the plugin, so the page can
   only explain (e.g. in <noscript>) that signing with a USB token needs VNPT's plugin
   installed and running and JavaScript enabled; a submit without the two fields must be
   answered by the server with that same explanation.

   The functions are named and exposed as window.usbSigner for browser tests; the page needs
   none of them directly. */
(function () {
  "use strict";

  // VNPT-CA plugin function ids (pki.md §2).
  const FUNCTION = {getCertInfo: 0, signCms: 4, setLicenseKey: 6, checkPlugin: 7};
  // The plugin's result codes -> the page's message ids.
  const CODE_MESSAGES = {2: "nocert", 4: "nokey", 11: "cancelled"};

  class PluginError extends Error {
    constructor(messageId, detail) {
      super(detail || messageId);
      this.messageId = messageId;
    }
  }

  function readSettings(form) {
    const data = form.dataset;
    const ports = (data.usbPorts || "4433 4434 4435").split(/[\s,]+/)
      .map(function (p) { return parseInt(p, 10); })
      .filter(function (p) { return p > 0 && p < 65536; });
    return {
      challenge: data.challenge || "",
      scheme: data.usbScheme === "ws" ? "ws" : "wss",
      host: data.usbHost || "localhost",
      ports: ports,
      timeout: parseInt(data.usbTimeout, 10) || 3000,
      signTimeout: parseInt(data.usbSignTimeout, 10) || 120000,
      license: data.usbLicense || "",
      domain: window.location.hostname || window.location.href
    };
  }

  function pluginUrl(scheme, host, port) {
    const name = host.indexOf(":") >= 0 ? "[" + host + "]" : host;  // an IPv6 literal
    return scheme + "://" + name + ":" + port + "/plugin";
  }

  // One request as VNPT's library frames it.
  function encodeRequest(functionID, args, domain, callback) {
    return JSON.stringify({functionID: functionID, funcCallback: callback || "callbackDefault",
                           args: args, domain: domain});
  }

  // A reply is "<result>*<callback>"; the result may itself hold a "*", the name cannot.
  function parseReply(text) {
    const star = String(text).lastIndexOf("*");
    if (star < 0) return {result: String(text), callback: ""};
    return {result: text.slice(0, star), callback: text.slice(star + 1)};
  }

  // A websocket to the plugin whose calls answer by callback name, so a late reply to a call
  // that timed out is never taken for the answer to the next one.
  class PluginSession {
    constructor(socket, domain) {
      this.socket = socket;
      this.domain = domain;
      this.pending = new Map();
      this.next = 0;
      socket.onmessage = (event) => this.receive(event.data);
      socket.onclose = () => this.failAll(new PluginError("failed", "the plugin closed"));
      socket.onerror = () => this.failAll(new PluginError("failed", "websocket error"));
    }

    receive(text) {
      const reply = parseReply(text);
      const call = this.pending.get(reply.callback);
      if (!call) return;
      this.pending.delete(reply.callback);
      window.clearTimeout(call.timer);
      call.resolve(reply.result);
    }

    failAll(error) {
      this.pending.forEach(function (call) {
        window.clearTimeout(call.timer);
        call.reject(error);
      });
      this.pending.clear();
    }

    call(functionID, args, timeoutMs) {
      this.next += 1;
      const callback = "usbSigner" + this.next;
      return new Promise((resolve, reject) => {
        const timer = window.setTimeout(() => {
          this.pending.delete(callback);
          reject(new PluginError("timeout", "no reply to function " + functionID));
        }, timeoutMs);
        this.pending.set(callback, {resolve: resolve, reject: reject, timer: timer});
        try {
          this.socket.send(encodeRequest(functionID, args, this.domain, callback));
        } catch (error) {
          this.pending.delete(callback);
          window.clearTimeout(timer);
          reject(new PluginError("failed", String(error)));
        }
      });
    }

    close() {
      this.socket.onclose = null;
      this.failAll(new PluginError("failed", "closed"));
      try { this.socket.close(); } catch (ignored) { /* already closed */ }
    }
  }

  function openSocket(url, timeoutMs) {
    return new Promise(function (resolve, reject) {
      let socket;
      try {
        socket = new WebSocket(url);  // throws at once when the CSP forbids the address
      } catch (error) {
        reject(new PluginError("unavailable", String(error)));
        return;
      }
      const timer = window.setTimeout(function () {
        socket.onopen = socket.onerror = null;
        socket.close();
        reject(new PluginError("unavailable", "no answer from " + url));
      }, timeoutMs);
      socket.onopen = function () {
        window.clearTimeout(timer);
        resolve(socket);
      };
      socket.onerror = function () {
        window.clearTimeout(timer);
        reject(new PluginError("unavailable", "cannot connect to " + url));
      };
    });
  }

  // The first port whose plugin answers checkPlugin with "1" within the per-port timeout.
  async function connectPlugin(settings) {
    for (const port of settings.ports) {
      const started = Date.now();
      let session = null;
      try {
        const socket = await openSocket(pluginUrl(settings.scheme, settings.host, port),
                                        settings.timeout);
        session = new PluginSession(socket, settings.domain);
        const left = Math.max(1, settings.timeout - (Date.now() - started));
        if (await session.call(FUNCTION.checkPlugin, [""], left) === "1") return session;
      } catch (ignored) {
        // not this port: try the next
      }
      if (session) session.close();
    }
    throw new PluginError("unavailable", "no plugin on ports " + settings.ports.join(", "));
  }

  function parseCertInfo(result) {
    let info = null;
    try { info = result ? JSON.parse(result) : null; } catch (ignored) { info = null; }
    if (!info || typeof info.base64 !== "string" || !info.base64) {
      throw new PluginError("nocert", "no certificate");
    }
    return info;
  }

  function messageIdForCode(code) {
    return CODE_MESSAGES[code] || "failed";
  }

  function parseSignResult(result) {
    let reply = null;
    try { reply = JSON.parse(result); } catch (ignored) { reply = null; }
    if (!reply || typeof reply.code !== "number") throw new PluginError("failed", "bad reply");
    if (reply.code !== 0) throw new PluginError(messageIdForCode(reply.code), reply.error);
    if (typeof reply.data !== "string" || !reply.data) {
      throw new PluginError("failed", "no signature");
    }
    return reply.data;
  }

  // checkPlugin -> [setLicenseKey] -> getCertInfo -> SignCMS: {certificate, signature}.
  async function signChallenge(settings) {
    if (!settings.challenge) throw new PluginError("failed", "no challenge on the form");
    const session = await connectPlugin(settings);
    try {
      if (settings.license) {
        await session.call(FUNCTION.setLicenseKey, [settings.license], settings.timeout);
      }
      const info = parseCertInfo(
        await session.call(FUNCTION.getCertInfo, ["0", ""], settings.signTimeout));
      const signature = parseSignResult(
        await session.call(FUNCTION.signCms, [settings.challenge], settings.signTimeout));
      return {certificate: info.base64, signature: signature};
    } finally {
      session.close();
    }
  }

  function showMessage(form, messageId) {
    const status = form.querySelector("[data-usb-status]");
    if (!status) return;
    const text = form.getAttribute("data-msg-" + messageId) ||
      (messageId === "working" ? "" : form.getAttribute("data-msg-failed")) || "";
    status.textContent = text;
    status.setAttribute("data-usb-message", messageId);
    status.hidden = !text;
  }

  function setBusy(form, busy) {
    if (busy) form.setAttribute("aria-busy", "true");
    else form.removeAttribute("aria-busy");
    form.querySelectorAll("button, input[type=submit]").forEach(function (button) {
      button.disabled = busy;
    });
  }

  function fieldOf(form, name) {
    let field = form.elements.namedItem(name);
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = name;
      form.appendChild(field);
    }
    return field;
  }

  function fillAndSubmit(form, result) {
    fieldOf(form, "certificate").value = result.certificate;
    fieldOf(form, "signature").value = result.signature;
    HTMLFormElement.prototype.submit.call(form);  // a control named "submit" cannot shadow it
  }

  async function run(form) {
    setBusy(form, true);
    showMessage(form, "working");
    try {
      fillAndSubmit(form, await signChallenge(readSettings(form)));
    } catch (error) {
      const id = error instanceof PluginError && error.messageId !== "timeout"
        ? error.messageId : "failed";
      showMessage(form, id);
      setBusy(form, false);
    }
  }

  function setup(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!form.hasAttribute("aria-busy")) run(form);
    });
  }

  window.usbSigner = Object.freeze({
    FUNCTION: FUNCTION, PluginError: PluginError, PluginSession: PluginSession,
    readSettings: readSettings, pluginUrl: pluginUrl, encodeRequest: encodeRequest,
    parseReply: parseReply, openSocket: openSocket, connectPlugin: connectPlugin,
    parseCertInfo: parseCertInfo, parseSignResult: parseSignResult,
    messageIdForCode: messageIdForCode, signChallenge: signChallenge, run: run
  });

  function init() {
    document.querySelectorAll("form[data-usb-signer]").forEach(setup);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
