"""What the signing stand-ins serve alike, around their protocol routes:

- every protocol request is recorded (method, path, JSON or form body, Authorization header),
  for tests to assert what the adapter sent;
- `latency` seconds are slept before answering, and a `fault` replaces the answer:
  "html" (200 with an HTML page, as a proxy in trouble answers), "malformed" (200 with JSON
  that is not the protocol), "error" (500);
- pending transactions past their lifetime expire before each request is handled;
- `/_control/`: GET transactions, GET requests, POST transactions/<id>/<approve|reject|expire
  |fail>, POST reset (subscribers re-read, everything forgotten), GET|POST settings
  (`latency`, `clock_offset`, `fault`, `lifetime`; JSON);
- `/_phone/<who>` (phone number or user id): the citizen's phone — the pending requests with
  their display code and the buttons Đồng ý / Từ chối;
- `/_pki/crl/<ca>.crl`: the CRL files of DATA_DIR/crl/, as they lie there (the development
  demo's `idp pki demo` writes them and names this address in its certificates, so the
  IdP's fail-closed revocation check has a CA to ask; a CA's CRL server is not the signing
  service, but one stand-in fewer to run is worth the shortcut).

Control, phone and CRL pages are not delayed, not faulted and not recorded (a test's fault
is about the signing service, not about the CA). Test-only: nothing here is authenticated.
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from flask import (
    Flask,
    abort,
    jsonify,
    redirect,
    render_template_string,
    request,
    send_from_directory,
    url_for,
)

from standins.core import Stand

FAULTS = ("", "html", "malformed", "error")
ACTIONS = {"approve": "approved", "reject": "rejected", "expire": "expired", "fail": "failed"}

PHONE_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} — yêu cầu ký số</title></head>
<body>
<h1>{{ title }}</h1>
<p>Thuê bao: {{ who }}</p>
{% if pending %}
<h2>Yêu cầu ký số đang chờ xác nhận</h2>
<ul>
{% for tx in pending %}
  <li data-tx="{{ tx.id }}">
    <p>Mã xác nhận: <strong class="display">{{ tx.display }}</strong></p>
    <p>Chỉ đồng ý khi mã này trùng với mã trên trang đăng nhập.</p>
    <form method="post" action="{{ url_for('standin_phone_answer', who=who, tx_id=tx.id) }}">
      <button name="decision" value="approve">Đồng ý</button>
      <button name="decision" value="reject">Từ chối</button>
    </form>
  </li>
{% endfor %}
</ul>
{% else %}
<p class="empty">Không có yêu cầu ký số nào đang chờ.</p>
{% endif %}
</body></html>"""


def delayed_fault(latency: float, fault: str) -> Any:
    """Sleep `latency` seconds, then the answer that replaces the protocol's for `fault`
    ("html", "malformed", "error"), or None to answer normally (also the VNeID stand-in's)."""
    if latency:
        time.sleep(latency)
    if fault == "html":
        return "<html><body><h1>502 Bad Gateway</h1></body></html>", 200, \
            {"Content-Type": "text/html"}
    if fault == "malformed":
        return jsonify({"surprise": "this is not the protocol"})
    if fault == "error":
        return jsonify({"error": "internal"}), 500
    return None


def install(app: Flask, stand: Stand, title: str) -> None:
    """Wrap `app`'s protocol routes and add /_control/ and /_phone/ for `stand`."""
    app.extensions["standin"] = stand

    def is_protocol() -> bool:
        return not request.path.startswith(("/_control/", "/_phone/", "/_pki/"))

    @app.before_request
    def around_protocol() -> Any:
        stand.sweep()
        if not is_protocol():
            return None
        body = request.get_json(silent=True) if request.is_json else None
        with stand.lock:
            stand.requests.append({
                "method": request.method, "path": request.path, "args": request.args.to_dict(),
                "json": body, "form": request.form.to_dict(),
                "authorization": request.headers.get("Authorization", ""), "at": stand.now()})
            latency, fault = stand.latency, stand.fault
        return delayed_fault(latency, fault)

    @app.get("/_control/transactions")
    def standin_transactions() -> Any:
        with stand.lock:
            return jsonify([tx.public() for tx in stand.transactions.values()])

    @app.post("/_control/transactions/<tx_id>/<action>")
    def standin_act(tx_id: str, action: str) -> Any:
        if action not in ACTIONS:
            abort(404)
        detail = (request.get_json(silent=True) or {}).get("detail", "")
        tx = stand.finish(tx_id, ACTIONS[action], detail)
        if tx is None:
            return jsonify({"ok": False, "error": "no pending transaction by this id"}), 409
        return jsonify({"ok": True, "transaction": tx.public()})

    @app.get("/_control/requests")
    def standin_requests() -> Any:
        with stand.lock:
            return jsonify(list(stand.requests))

    @app.post("/_control/reset")
    def standin_reset() -> Any:
        stand.reset()
        return jsonify({"ok": True, "subscribers": len(stand.subscribers)})

    @app.route("/_control/settings", methods=["GET", "POST"])
    def standin_settings() -> Any:
        if request.method == "POST":
            change = request.get_json(force=True, silent=True) or {}
            if change.get("fault", "") not in FAULTS:
                return jsonify({"ok": False, "error": f"fault must be one of {FAULTS}"}), 400
            with stand.lock:
                for name in ("latency", "clock_offset", "lifetime"):
                    if name in change:
                        setattr(stand, name, float(change[name]))
                if "fault" in change:
                    stand.fault = change["fault"]
        with stand.lock:
            return jsonify({"latency": stand.latency, "clock_offset": stand.clock_offset,
                            "fault": stand.fault, "lifetime": stand.lifetime})

    @app.get("/_phone/<who>")
    def standin_phone(who: str) -> Any:
        if not stand.find(who):
            abort(404)
        return render_template_string(PHONE_PAGE, title=title, who=who,
                                      pending=stand.pending_for(who))

    @app.post("/_phone/<who>/<tx_id>")
    def standin_phone_answer(who: str, tx_id: str) -> Any:
        if all(tx.id != tx_id for tx in stand.pending_for(who)):
            abort(404)
        decision = request.form.get("decision")
        if decision not in ("approve", "reject"):
            abort(400)
        stand.finish(tx_id, ACTIONS[decision], "answered on the phone")
        return redirect(url_for("standin_phone", who=who))

    @app.get("/_pki/crl/<name>")
    def standin_crl(name: str) -> Any:
        # Only *.crl of that one folder (send_from_directory refuses any path outside it):
        # the data folder also holds subscribers' private keys.
        if not name.endswith(".crl"):
            abort(404)
        return send_from_directory(stand.data_dir.resolve() / "crl", name,
                                   mimetype="application/pkix-crl", max_age=60)


def arguments(description: str) -> argparse.ArgumentParser:
    """The command line every signing stand-in takes; each adds its own credentials."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", required=True, help="the directory of subscribers.json")
    parser.add_argument("--lifetime", type=float, default=120.0,
                        help="seconds a signing request waits for the phone (default 120)")
    return parser


def serve(app: Flask, host: str, port: int) -> None:
    """Serve on `host:port` (threaded) until interrupted."""
    from werkzeug.serving import make_server
    server = make_server(host, port, app, threaded=True)
    print(f"{app.name}: http://{host}:{server.server_port}/ (the phone: /_phone/<phone or "
          "CCCD>, control: /_control/)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
