"""GET /flows/<id> shows the current step; POST /flows/<id> submits it (CSRF-checked by
Flask-WTF), then Post/Redirect/Get (303) to the next step or back to the authorization.

When a flow finishes (`complete`):
- A login renews the browser binding (session.start). The pending authorization of *this*
  flow is re-bound to the new binding, so its resume (and a consent flow after it) goes on;
  every other flow and pending authorization of the browser stays bound to the old one and
  is gone (410 / error page).
- A flow started with `record_completion` (flows.create_internal) that finished a login
  leaves `flow-done:<flow id>` = which session and citizen it logged in, for the page that
  started it to check (the account page's re-authentication, account/access.py).
- Handing the pending record over to another kind (`hand_over_login`, or Finish(next_flow))
  applies the record's `handover` instructions: the keys bound to the finished flow are
  deleted and an internal `return_to` is replaced; nothing of the first flow survives.
"""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from idp.interaction import session as sso
from idp.flows import KINDS, base

bp = Blueprint("flows", __name__)


def gone_page():
    return render_template(
        "error.html", title=_("Phiên đăng nhập đã hết hạn"),
        message=_("Phiên đăng nhập đã hết hạn hoặc không còn hợp lệ. Vui lòng quay lại cổng "
                  "dịch vụ công và chọn “Đăng nhập” để bắt đầu lại.")), 410


def conflict_page():
    return render_template(
        "error.html", title=_("Yêu cầu đã được xử lý"),
        message=_("Bước này vừa được gửi từ một cửa sổ khác. Vui lòng tải lại trang.")), 409


@bp.get("/flows/<flow_id>")
def show(flow_id: str):
    try:
        flow = base.load(flow_id)
        return KINDS[flow.kind].render(flow)
    except base.FlowGone:
        return gone_page()


@bp.post("/flows/<flow_id>")
def submit(flow_id: str):
    try:
        flow = base.load(flow_id)
    except base.FlowGone:
        return gone_page()
    kind = KINDS[flow.kind]
    try:
        outcome = kind.handle(flow, request.form)
        if isinstance(outcome, base.Stay):
            headers = {"Retry-After": str(outcome.retry_after)} if outcome.retry_after else {}
            return kind.render(flow, outcome.errors, outcome.values), outcome.status, headers
    except base.FlowConflict:
        return conflict_page()
    except base.FlowGone:
        return gone_page()
    if isinstance(outcome, base.Goto):
        flow.state = outcome.state
        try:
            base.save(flow)
        except base.FlowConflict:
            return conflict_page()
        return redirect(flow.url, 303)
    return complete(flow, outcome)


def hand_over_login(flow_id: str, kind: str):
    """From the login page to another step of the same authorization ("Quên mật khẩu?",
    "Chưa có tài khoản? Đăng ký"): end the login flow and start `kind` on its pending
    authorization, with a fresh lifetime. Only before the password was accepted."""
    try:
        old = base.load(flow_id)
    except base.FlowGone:
        return gone_page()
    if old.kind != "login":
        return gone_page()
    if old.state != "credentials":
        return redirect(old.url, 303)  # the password was right: nothing to hand over
    if not base.finish(old):
        return conflict_page()
    store = current_app.extensions["idp.store"]
    key = "pending:" + old.pending
    pending = store.get(key)
    if pending is None:
        return gone_page()
    _hand_over(pending)
    store.put(key, pending, current_app.config["IDP"]["flow_ttl"])
    return redirect(base.create(KINDS[kind], old.pending, old.client_id).url, 303)


def _hand_over(pending: dict) -> None:
    """The pending record goes to a flow of another kind: cancel what was bound to the
    finished flow (its completion record, the keys it names, an internal return_to)."""
    store = current_app.extensions["idp.store"]
    spec = pending.pop("handover", None) or {}
    pending.pop("record_completion", None)
    for key in spec.get("drop") or ():
        store.delete(key)
    if spec.get("return_to") and pending.get("return_to"):
        pending["return_to"] = spec["return_to"]


def _record_completion(flow: base.Flow) -> None:
    """`flow-done:<id>`: this flow finished a login of that citizen into that session."""
    started = sso.started_in_request()
    if started is None:
        return
    current_app.extensions["idp.store"].put(
        "flow-done:" + flow.id,
        {"kind": flow.kind, "citizen_id": started.citizen_id, "sid": started.sid,
         "auth_time": started.auth_time, "bid_before": sso.binding_before_login(),
         "bid": sso.browser_binding()},
        current_app.config["IDP"]["flow_ttl"])


def complete(flow: base.Flow, outcome: base.Finish):
    if not base.finish(flow):
        return conflict_page()
    store = current_app.extensions["idp.store"]
    key = "pending:" + flow.pending
    pending = store.get(key)
    if pending is None or pending.get("bid") != sso.binding_before_login():
        return gone_page()
    pending["bid"] = sso.browser_binding()  # re-bound when this flow's login renewed it
    pending.update(outcome.pending_updates)
    if pending.get("record_completion"):
        _record_completion(flow)
    if outcome.next_flow:
        # Another step bound to the same authorization (e.g. "Quên mật khẩu?" from
        # registration), internal or not.
        _hand_over(pending)
        store.put(key, pending, current_app.config["IDP"]["flow_ttl"])
        kind, data = outcome.next_flow
        return redirect(base.create(KINDS[kind], flow.pending, flow.client_id, data).url, 303)
    if pending.get("return_to"):
        store.delete(key)  # an internal flow (account page, recovery): back to our own page
        return redirect(pending["return_to"], 303)
    store.put(key, pending, current_app.config["IDP"]["flow_ttl"])
    return redirect(url_for("authorize.resume", uid=flow.pending), 303)
