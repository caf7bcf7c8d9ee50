"""What the VNeID stand-in does around its protocol routes, and its /_control/ endpoints:

- every protocol request is recorded (method, path, raw query string, form, JSON body,
  Authorization header); /token and /userinfo first wait `latency` seconds and answer as the
  `fault` "error" (500), "html" (200 text/html) or "malformed" (200 JSON not the protocol)
  says (the envelope and ID-token faults are applied where the answer is made);
- `/_control/`: GET requests, POST reset, GET|POST settings (JSON), POST citizens (replace the
  list), POST rotate-key ({"keep_old": bool}), POST backchannel-logout ({"citizenPid"} or
  {"sid"}), GET backchannel (what was sent). Not recorded, delayed or faulted.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from standins.vneid_citizens import parse_citizens
from standins.vneid_oidc import backchannel_from_control
from standins.vneid_state import VneidStand
from standins.web import delayed_fault

FAULTED = ("/token", "/userinfo")


def install_control(app: Flask, stand: VneidStand) -> None:

    @app.before_request
    def around_protocol() -> Any:
        if request.path.startswith("/_control/"):
            return None
        body = request.get_json(silent=True) if request.is_json else None
        with stand.lock:
            stand.requests.append({
                "method": request.method, "path": request.path,
                "query_string": request.query_string.decode("latin-1"),
                "args": request.args.to_dict(), "form": request.form.to_dict(),
                "json": body, "authorization": request.headers.get("Authorization", ""),
                "content_type": request.content_type or "", "at": stand.now()})
            latency, fault = stand["latency"], stand["fault"]
        if request.path not in FAULTED:
            return None
        return delayed_fault(latency, fault)

    @app.get("/_control/requests")
    def control_requests() -> Any:
        """What the IdP sent, oldest first (the stand-in's own lock held while copying)."""
        with stand.lock:
            recorded = list(stand.requests)
        return jsonify(recorded)

    @app.post("/_control/reset")
    def control_reset() -> Any:
        stand.reset()  # codes, tokens, sessions, requests; settings back to the start values
        return jsonify({"ok": True})

    @app.route("/_control/settings", methods=["GET", "POST"])
    def control_settings() -> Any:
        if request.method == "POST":
            change = request.get_json(force=True, silent=True) or {}
            try:
                return jsonify(stand.change(change))
            except (ValueError, TypeError) as exc:
                return jsonify({"ok": False, "error": str(exc)}), 400
        return jsonify(stand.public_settings())

    @app.post("/_control/citizens")
    def control_citizens() -> Any:
        try:
            citizens = parse_citizens(request.get_json(force=True, silent=True))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return jsonify({"ok": False, "error": str(exc)}), 400
        with stand.lock:
            stand.citizens = citizens
        return jsonify({"ok": True, "citizens": len(citizens)})

    @app.post("/_control/rotate-key")
    def control_rotate() -> Any:
        keep_old = bool((request.get_json(force=True, silent=True) or {}).get("keep_old"))
        key = stand.rotate(keep_old)
        with stand.lock:
            kids = [k.kid for k in stand.keys]
        return jsonify({"ok": True, "kid": key.kid, "published": kids})

    @app.post("/_control/backchannel-logout")
    def control_backchannel() -> Any:
        return backchannel_from_control(stand, request.get_json(force=True, silent=True) or {})

    @app.get("/_control/backchannel")
    def control_backchannel_sent() -> Any:
        with stand.lock:
            return jsonify(list(stand.backchannel))
