"""Activating an account registered at a counter, "Bưu điện Việt Nam" (issue 17 item 2): the
citizen types the slip's reference and activation code, sets a password, and the account is
created by registration's own path (person.create: one transaction with the registration
marked activated), verified_by "vnpost", IAL2. The rules of the code (what a wrong, expired,
reused or locked code says; attempts) are accounts/counter_activation.py's.

    stateDiagram-v2
      [*] --> code: GET /register/activate[?ref=…] (the slip's QR), or "Kích hoạt tài khoản"
                    on registration's "Bưu điện Việt Nam" page (the RP's authorization goes on)
      code --> password: the right code for a registration still to be activated
      password --> creating --> done: the account is created (not logged in: the citizen
                                      logs in with it, "Đăng nhập")
      password --> code: the registration is no longer live (expired, activated elsewhere)
      done --> [*]: "Đăng nhập": the account page, or the portal's authorization resumes

Not logged in at the end: the code proves the slip (which others may have seen), not the
phone; the first login asks the password and the SMS code like every LoA2 login.
"""
from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from idp.accounts import counter_activation as activation
from idp.accounts import passwords
from idp.flows.claim import claim
from idp.flows.register import person as people
from idp.flows.register_views import bp
from idp.interaction import engine
from idp.interaction.engine import Fields, Flow, FlowKind, ViewResult, table
from idp.interaction.outcomes import Finish, Goto, Outcome, Stay
from idp.platform import audit
from idp.platform.crypto import hash_password
from idp.platform.masking import mask_id_number, mask_phone
from idp.platform.messages import msg

REFUSALS = {"wrong": ("counter.activation_wrong", 400),
            "locked": ("counter.activation_locked", 429),
            "expired": ("counter.activation_expired", 410),
            "used": ("counter.activation_used", 409),
            "cancelled": ("counter.activation_cancelled", 410)}


class ActivateFlow(FlowKind):
    name = "activate"
    transitions = table(code="password", password="code creating",
                        creating="done password code", done="")

    def render(self, flow: Flow, errors: Fields = None, values: Fields = None) -> ViewResult:
        errors, values = errors or {}, values or {}
        context = {"action": url_for("flows.submit", flow_id=flow.id), "errors": errors}
        if flow.state == "password":
            return render_template("register_activate_password.html", hint=passwords.HINT,
                                   strength=values.get("strength"),
                                   who=flow.data.get("who") or {}, **context)
        if flow.state == "done":
            return render_template("register_activate_done.html",
                                   done=flow.data.get("done") or {},
                                   notice=msg("counter.activated"), **context)
        if flow.state == "creating":
            return render_template("register_activate.html", reference="", **dict(
                context, errors={"form": msg("register.creating")}))
        notice = msg("counter.activation_gone") if flow.data.get("gone") and not errors \
            else None
        return render_template("register_activate.html", notice=notice,
                               reference=values.get("reference", flow.data.get("ref", "")),
                               **context)

    def handle(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        if flow.state == "code":
            return self._code(flow, form)
        if flow.state == "password":
            return self._password(flow, form)
        if flow.state == "done":
            return Finish({"register_done": True}) if form.get("action") == "login" \
                else Stay({})
        return Stay({"form": msg("register.creating")}, status=409)

    def _code(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        typed = {"reference": (form.get("reference") or "").strip()[:20]}
        if not typed["reference"] or not (form.get("code") or "").strip():
            return Stay({"form": msg("counter.activation_required")}, typed, 400)
        try:
            row = activation.check(typed["reference"], form.get("code") or "")
        except activation.ActivationRefused as exc:
            msg_id, status = REFUSALS[exc.reason]
            audit.record("counter.activation_refused", reason=exc.reason)
            return Stay({"form": msg(msg_id)}, typed, status)
        flow.data.update(registration=row.id, gone=False, method="vnpost",
                         who={"full_name": row.full_name,
                              "id_number": mask_id_number(row.id_number),
                              "phone": mask_phone(row.phone), "counter": row.counter})
        audit.record("counter.activation_code_ok", registration=row.reference,
                     id_number=mask_id_number(row.id_number))
        return Goto("password")

    def _password(self, flow: Flow, form: MultiDict[str, str]) -> Outcome:
        row = activation.live(int(flow.data.get("registration") or 0))
        if row is None:
            return self._gone(flow)
        person = activation.person(row)
        password = form.get("password") or ""
        errors = passwords.check(password, form.get("password_confirm") or "",
                                 passwords.Context(person["id_number"], (person["phone"],),
                                                   person["birth_date"], person["full_name"]))
        if errors:
            strength = None if "password" in errors else passwords.strength_label(password)
            return Stay(errors, {"strength": strength}, 400)
        claim(self, flow, "creating")  # a double submit creates at most one account
        flow.data["counter"] = row.id  # person.create marks it activated in its transaction
        outcome = people.create(flow, person, hash_password(password))
        if not isinstance(outcome, str):
            flow.data = {"done": dict(flow.data["who"])}
            return Goto("done")
        flow.data.pop("counter", None)
        if outcome == "gone":
            return self._gone(flow)
        claim(self, flow, "password")
        msg_id = {"id_number": "counter.activation_used", "phone": "counter.phone_taken",
                  "busy": "register.phone_busy"}.get(outcome, "register.create_failed")
        return Stay({"form": msg(msg_id)}, status=409 if outcome != "error" else 503)

    def _gone(self, flow: Flow) -> Outcome:
        flow.data.update(gone=True, registration=None)
        return Goto("code")


def _start(data: dict[str, Any]) -> str:
    return engine.start_internal("activate", "activate", url_for("account.index"),
                                 data=data).url


@bp.get("/register/activate")
def activate_start() -> ViewResult:
    """The slip's QR and link: a new activation, the reference filled in when given."""
    ref = activation.normalize_reference(request.args.get("ref"))
    return redirect(_start({"ref": ref} if ref else {}), 303)
