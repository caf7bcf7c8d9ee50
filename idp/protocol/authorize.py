"""The authorization endpoint (OIDC Core §3.1.2) and its resumption after a flow.

One LoA2 login, files in reading order: **this module** (`authorize`, `proceed`) →
interaction/policy.py (`decide`: what is missing, `Needed(kind="login", level="LoA2")`) →
interaction/pending.py (the pending authorization, bound to this browser, carries `needed`) →
interaction/engine.py (starts the flow; GET/POST /flows/<id>; maps outcomes to HTTP) →
flows/login.py (password; `flow.needed.level` asks a second factor) → flows/second_factor.py
(SMS code) → engine `Finish` → pending.finish → back here: `resume` → policy → code.

Read top to bottom: `authorize` validates the request (client and redirect URI first: while
either is unknown, errors go to an HTML page, never to a redirect — RFC 6749 §4.1.2.1), asks
the policy what is missing, and either issues a code at once (the SSO hot path, nothing
stored) or stores a *pending authorization* bound to this browser and starts a flow. Each flow
ends by redirecting to `resume`, which asks the policy again.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, g, redirect, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from idp.interaction import engine, pending, policy
from idp.interaction import session as sso
from idp.methods import registry
from idp.platform import web
from idp.platform.db import db, now
from idp.platform.models import Citizen, Consent
from idp.platform.web import csrf
from idp.protocol import oauth2

log = logging.getLogger("idp.authorize")
bp = Blueprint("authorize", __name__)

PROMPTS = {"none", "login", "consent", "select_account", "create"}
SINGLE = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt",
          "max_age", "acr_values", "code_challenge", "code_challenge_method", "response_mode",
          "id_token_hint", "login_hint", "ui_locales", "display", "claims")
KNOWN = frozenset(SINGLE + ("request", "request_uri", "claims_locales"))
MAX_PARAM = 2048
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_AGE = re.compile(r"[0-9]{1,10}")


class PageError(Exception):
    """The request cannot be answered by redirect: show an error page (RFC 6749 §4.1.2.1)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RedirectError(Exception):
    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error, self.description = error, description


def issuer() -> str:
    return current_app.config["IDP"]["issuer"]


def error_redirect(redirect_uri: str, state: str | None, error: str, description: str):
    params = [("error", error), ("error_description", _ascii(description))]
    if state:
        params.append(("state", state))
    params.append(("iss", issuer()))  # RFC 9207 §2: also in error responses
    return redirect(add_params_to_uri(redirect_uri, params), 302)


def _ascii(text: str) -> str:
    # RFC 6749 App. A: error_description is %x20-21 / %x23-5B / %x5D-7E.
    return "".join(c for c in text if 0x20 <= ord(c) <= 0x7E and c not in '"\\')[:200]


def error_page(message: str, status: int = 400):
    return render_template("error.html", title=_("Yêu cầu đăng nhập không hợp lệ"),
                           message=message), status


# --------------------------------------------------------------------------- reading

@dataclass
class ReadParams:
    """The request's known parameters (single values) and what was wrong with the rest."""
    params: dict
    duplicate: str | None = None
    too_long: str | None = None
    control: str | None = None
    state: str | None = None  # as sent, even when refused: every error redirect carries it


def read_params() -> ReadParams:
    source = request.form if request.method == "POST" else request.args
    out = ReadParams({})
    for key in source:
        if key not in KNOWN:
            continue  # RFC 6749 §3.1: unknown parameters are ignored (and not stored)
        values = source.getlist(key)
        if len(values) > 1 and out.duplicate is None:
            out.duplicate = key
        value = values[0]
        if value == "":
            continue  # RFC 6749 §3.1: a parameter sent without a value is omitted
        if key == "state":
            out.state = value
        if len(value) > MAX_PARAM:
            out.too_long = out.too_long or key
            continue
        if "\x00" in value:
            out.control = out.control or key  # never legitimate; PostgreSQL refuses it
            continue
        out.params[key] = value
    return out


def check_client_and_redirect(read: ReadParams):
    params = read.params
    if read.duplicate in ("client_id", "redirect_uri") or read.control in ("client_id",
                                                                             "redirect_uri"):
        raise PageError(_("Yêu cầu có tham số không hợp lệ."))
    client_id = params.get("client_id")
    if not client_id:
        raise PageError(_("Thiếu mã ứng dụng (client_id)."))
    client = oauth2.query_client(client_id)
    if client is None:
        raise PageError(_("Ứng dụng yêu cầu đăng nhập không được đăng ký với hệ thống."))
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise PageError(_("Thiếu địa chỉ chuyển hướng (redirect_uri)."))
    if not client.check_redirect_uri(redirect_uri):
        raise PageError(_("Địa chỉ chuyển hướng không khớp với địa chỉ đã đăng ký của ứng "
                          "dụng."))
    return client, redirect_uri


def check_request(read: ReadParams, client) -> None:
    """Everything that is answered by redirect (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6)."""
    params = read.params
    if read.duplicate:
        raise RedirectError("invalid_request", f"Repeated parameter {read.duplicate}")
    if read.too_long:
        raise RedirectError("invalid_request", f"Parameter {read.too_long} is too long")
    if read.control:
        raise RedirectError("invalid_request", f"Parameter {read.control} is malformed")
    if "request" in params:
        raise RedirectError("request_not_supported", "Request objects are not supported")
    if "request_uri" in params:
        raise RedirectError("request_uri_not_supported", "request_uri is not supported")
    if "response_type" not in params:
        raise RedirectError("invalid_request", "Missing response_type")
    if params["response_type"] != "code":
        # Checked here: Authlib would echo the raw value into error_description.
        raise RedirectError("unsupported_response_type", "Only response_type=code is supported")
    if params.get("response_mode", "query") != "query":
        raise RedirectError("invalid_request", "Only response_mode=query is supported")
    p = policy.prompts(params)
    if not p <= PROMPTS:
        raise RedirectError("invalid_request", "Unsupported prompt value")
    if "none" in p and len(p) > 1:
        raise RedirectError("invalid_request", "prompt=none cannot be combined")
    max_age = params.get("max_age")
    if max_age is not None and not MAX_AGE.fullmatch(max_age):
        raise RedirectError("invalid_request", "max_age must be a non-negative integer")
    req = oauth2.stored_request(params)
    grant = oauth2.server().get_consent_grant(request=req, end_user=True)
    if "openid" not in (req.scope or "").split():
        raise RedirectError("invalid_scope", "The openid scope is required")
    params["scope"] = req.scope  # what the client may have (unknown scopes dropped)
    return grant


def hinted_sub(params: dict) -> str | None:
    hint = params.get("id_token_hint")
    if not hint:
        return None
    try:
        claims = current_app.extensions["idp.keyring"].verify(hint)
    except ValueError:
        return "invalid"
    if claims.get("iss") != issuer():
        return "invalid"
    return str(claims.get("sub"))


def apply_locale(params: dict) -> None:
    for tag in (params.get("ui_locales") or "").split():
        lang = tag.split("-")[0].lower()
        if lang in ("vi", "en"):
            g.locale_override = lang
            return


# --------------------------------------------------------------------------- endpoint

@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt  # the RP's browser request, not one of our forms (OIDC Core §3.1.2.1: GET and POST)
def authorize():
    read = read_params()
    params = read.params
    apply_locale(params)
    try:
        client, redirect_uri = check_client_and_redirect(read)
    except PageError as exc:
        return error_page(exc.message)
    # The state goes back exactly as sent (percent-encoded, control characters and all) in
    # every error redirect, or the request ends on a page: never a redirect without it. One
    # too long to store is too long to echo safely (proxies' header limits): a page.
    state = read.state
    if state is not None and len(state) > MAX_PARAM:
        return error_page(_("Yêu cầu có tham số không hợp lệ."))
    try:
        grant = check_request(read, client)
    except RedirectError as exc:
        return error_redirect(redirect_uri, state, exc.error, exc.description)
    except OAuth2Error as exc:
        return error_redirect(redirect_uri, state, exc.error, exc.description or exc.error)
    try:
        return proceed(params, client, None, grant)
    except Exception as exc:
        if not web.dependency_down(exc):
            raise
        # The client and its redirect URI are known: tell the RP, so it can say so itself
        # (RFC 6749 §4.1.2.1 temporarily_unavailable) instead of leaving the citizen here.
        db.session.rollback()
        log.warning("authorization refused, dependency down: %s", exc.__class__.__name__)
        return error_redirect(redirect_uri, state, "temporarily_unavailable",
                              "The service is temporarily unavailable")


@bp.get("/authorize/resume/<uid>")
def resume(uid: str):
    """Where a finished flow sends the browser (engine → pending.finish): the policy again."""
    if not ID_PATTERN.fullmatch(uid):
        return error_page(_("Yêu cầu đăng nhập không tồn tại hoặc đã hết hạn."))
    p = pending.find(uid)
    if p is None or p.kind != pending.AUTHORIZATION:
        return error_page(_("Yêu cầu đăng nhập không tồn tại hoặc đã hết hạn. Vui lòng quay "
                            "lại cổng dịch vụ công và đăng nhập lại."))
    params = p.params
    apply_locale(params)
    client = oauth2.query_client(params["client_id"])
    if client is None or not client.check_redirect_uri(params["redirect_uri"]):
        pending.discard(uid)
        return error_page(_("Ứng dụng yêu cầu đăng nhập không còn được đăng ký với hệ thống."))
    return proceed(params, client, p)


def proceed(params: dict, client, p: pending.Pending | None, grant=None):
    """Ask the policy (interaction/policy.py) what is missing. Issue: the code now. Needed:
    store it on the pending authorization (created on the first visit, bound to this
    browser) and start that flow (interaction/engine.py) with it. Refuse: back to the RP.
    `grant`: the request as `check_request` validated it (a fresh /authorize), not again."""
    session = sso.current()
    citizen = sso.current_citizen() if session else None
    has_consent = bool(citizen) and not client.is_first_party and _consented(citizen, client,
                                                                              params["scope"])
    decision = policy.decide(policy.Facts(
        params=params, session=session,
        floor=policy.login_floor(client, current_app.config["IDP"]),
        highest=registry.highest_level(), available_flows=engine.available(),
        results=p.results if p is not None else {}, citizen_sub=citizen.sub if citizen else None,
        hint_sub=hinted_sub(params), first_party=client.is_first_party, has_consent=has_consent,
        default_acr=client.default_acr_values, now=now()))
    state = params.get("state")
    if isinstance(decision, policy.Refuse):
        if p is not None:
            pending.discard(p.uid)
        return error_redirect(params["redirect_uri"], state, decision.error,
                              decision.description)
    if isinstance(decision, policy.Needed):
        if p is None:
            p = pending.create(params, client.client_id, decision)
        else:
            p.needed = decision
            pending.save(p)
        return redirect(engine.start(decision.kind, p, session).url, 303)
    if p is not None and not pending.consume(p.uid):
        return error_page(_("Yêu cầu đăng nhập này đã được xử lý."))
    return issue_code(params, citizen, session, grant)


def _consented(citizen, client, scope: str) -> bool:
    row = db.session.execute(select(Consent.scope).where(
        Consent.citizen_id == citizen.id, Consent.client_id == client.client_id)).scalar()
    return row is not None and set(scope.split()) <= set(row.split())


def issue_code(params: dict, citizen: Citizen, session, grant=None):
    """The code redirect. A resumed request (no `grant`) is validated again from its stored
    parameters (the client's registration may have changed while the citizen logged in)."""
    server = oauth2.server()
    if grant is None:
        try:
            grant = server.get_consent_grant(request=oauth2.stored_request(params),
                                             end_user=citizen)
        except OAuth2Error as exc:
            return error_redirect(params["redirect_uri"], params.get("state"), exc.error,
                                  exc.description or exc.error)
    req = grant.request
    req.user, req.idp_session = citizen, session
    return server.create_authorization_response(request=req, grant_user=citizen, grant=grant)
