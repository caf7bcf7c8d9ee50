"""One small Flask app for both demo portals: an OpenID Connect relying party of the IdP,
talking to it only over HTTP (discovery, authorization code + PKCE S256, state, nonce, ID token
verified by Authlib against the JWKS with a refetch on an unknown `kid`, userinfo,
RP-initiated logout, back-channel logout receiver).

`create_portal(config)` keys (see portals/daklak.py):
  name, issuer, client_id, client_secret, base_url, scope, login_acr, submit_acr, theme,
  secret_key (optional: else instance_dir/secret_key, created once), instance_dir,
  session_ttl (seconds, default 8 h).
"""
from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import (Flask, abort, flash, g, jsonify, redirect, render_template, request,
                   session, url_for)
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from . import humanize
from .humanize import ACR_LABELS
from .store import SessionStore

log = logging.getLogger(__name__)

ACR_ORDER = {"LoA1": 1, "LoA2": 2, "LoA3": 3}
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_MAX_AGE = 15 * 60     # accept logout tokens issued up to 15 min ago (IdP retries)
CLOCK_SKEW = 60
JWKS_REFETCH_INTERVAL = 10.0       # at most one forced JWKS refetch per 10 s from the receiver

def acr_at_least(acr: str | None, required: str) -> bool:
    return ACR_ORDER.get(acr or "", 0) >= ACR_ORDER[required]


def _secret_key(config: dict, instance: Path) -> str:
    if config.get("secret_key"):
        return config["secret_key"]
    path = instance / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _safe_next(target: str | None) -> str:
    """Only local paths (no scheme, no host, no '//' or backslash tricks)."""
    if not target or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or urlsplit(target).netloc:
        return "/"
    return target


def mask_name(full_name: str) -> str:
    """Public lists show the family name and initials only: "PHẠM QUỐC HÙNG" -> "PHẠM Q. H."."""
    parts = full_name.split()
    if not parts:
        return ""
    return " ".join([parts[0]] + [p[0] + "." for p in parts[1:]])


def create_portal(config: dict) -> Flask:
    cfg = {"scope": "openid profile phone email", "login_acr": "LoA1", "submit_acr": "LoA2",
           "session_ttl": 8 * 3600, "theme": {}}
    cfg.update(config)
    for key in ("name", "issuer", "client_id", "client_secret", "base_url", "instance_dir"):
        if not cfg.get(key):
            raise ValueError(f"portal config: {key} is required")
    cfg["issuer"] = cfg["issuer"].rstrip("/")
    cfg["base_url"] = cfg["base_url"].rstrip("/")
    instance = Path(cfg["instance_dir"])
    instance.mkdir(parents=True, exist_ok=True)

    app = Flask(cfg["name"], template_folder=str(Path(__file__).parent / "templates"),
                static_folder=str(Path(__file__).parent / "static"), static_url_path="/static",
                instance_path=str(instance.resolve()))
    secure = cfg["base_url"].startswith("https://")
    app.config.update(
        SECRET_KEY=_secret_key(cfg, instance),
        # Both portals and the IdP share the host 127.0.0.1 in development and cookies are
        # not isolated by port: every app needs its own cookie name.
        SESSION_COOKIE_NAME=("__Host-" if secure else "") + f"portal_{cfg['name']}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=cfg["session_ttl"]),
        PORTAL=cfg,
    )
    store = SessionStore(instance / "sessions.sqlite3", cfg["session_ttl"])
    app.extensions["portal.store"] = store
    humanize.register(app)  # citizen-facing wording: levels, methods, times, phones

    oauth = OAuth(app)
    idp = oauth.register(
        "idp",
        client_id=cfg["client_id"],
        client_secret=cfg["client_secret"],
        server_metadata_url=cfg["issuer"] + "/.well-known/openid-configuration",
        client_kwargs={"scope": cfg["scope"], "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic", "timeout": 10},
    )
    app.extensions["portal.idp"] = idp
    redirect_uri = cfg["base_url"] + "/auth/callback"
    jwks_state = {"last_forced": 0.0, "lock": threading.Lock()}

    # ------------------------------------------------------------------ request hooks
    @app.before_request
    def load_session():
        g.record = None
        rec_id = session.get("rec")
        if rec_id:
            g.record = store.get(rec_id)
            if g.record is None:
                # Logged out elsewhere (back-channel) or expired: forget the local session.
                session.pop("rec", None)
                session.pop("csrf", None)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self' " + cfg["issuer"] + "; base-uri 'none'")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if g.get("record") is not None or request.path.startswith("/auth/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        return session["csrf"]

    def check_csrf():
        sent = request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
            abort(400, "Phiên làm việc đã hết hạn hoặc yêu cầu không hợp lệ. Vui lòng thử lại.")

    @app.context_processor
    def template_globals():
        return {"portal": cfg, "theme": cfg["theme"], "record": g.get("record"),
                "csrf_token": csrf_token, "mask_name": mask_name}

    # ------------------------------------------------------------------ helpers
    def start_login(acr: str, next_url: str, **extra):
        session["login"] = {"acr": acr, "next": _safe_next(next_url)}
        params = {"acr_values": acr}
        params.update(extra)
        try:
            return idp.authorize_redirect(redirect_uri, **params)
        except Exception as exc:  # noqa: BLE001 - discovery unreachable
            log.warning("cannot reach the identity provider: %r", exc)
            return render_template("error.html", title="Không kết nối được hệ thống xác thực",
                                   message="Hệ thống xác thực tạm thời không phản hồi. "
                                           "Vui lòng thử lại sau ít phút."), 503

    def login_required(acr: str | None = None):
        """None when the session is good enough, else a response that (re)authorizes."""
        if g.record is None:
            return start_login(acr or cfg["login_acr"], request.full_path.rstrip("?"))
        if acr and not acr_at_least(g.record.acr, acr):
            # Step-up: the IdP asks only the missing factor for its existing session.
            return start_login(acr, request.full_path.rstrip("?"))
        return None

    # ------------------------------------------------------------------ pages
    @app.get("/")
    def home():
        state = request.args.get("state")
        expected = session.pop("logout_state", None)
        if state and expected and hmac.compare_digest(state, expected):
            flash("Bạn đã đăng xuất khỏi cổng và hệ thống xác thực.", "success")
        return render_template("home.html")

    @app.get("/dang-nhap")
    def login_methods():
        if g.record is not None:
            return redirect(url_for("citizen"))
        return render_template("login_methods.html",
                               next=_safe_next(request.args.get("next")))

    @app.get("/auth/login")
    def login():
        if g.record is not None:
            return redirect(url_for("citizen"))
        return start_login(cfg["login_acr"], request.args.get("next") or url_for("citizen"))

    @app.get("/dang-ky")
    def register():
        if g.record is not None:
            return redirect(url_for("citizen"))
        return start_login(cfg["login_acr"], url_for("citizen"), prompt="create")

    @app.get("/auth/callback")
    def callback():
        pending = session.pop("login", None) or {"acr": cfg["login_acr"], "next": "/"}
        if request.args.get("error"):
            error = request.args["error"]
            message = {
                "access_denied": "Bạn đã hủy đăng nhập hoặc yêu cầu bị từ chối.",
                "login_required": "Bạn cần đăng nhập lại.",
            }.get(error, "Đăng nhập không thành công.")
            return render_template("error.html", title="Đăng nhập không thành công",
                                   message=message, retry=True), 400
        # RFC 9207: the IdP names itself in the response; refuse a mix-up.
        iss = request.args.get("iss")
        if iss is not None and iss != cfg["issuer"]:
            return render_template("error.html", title="Đăng nhập không thành công",
                                   message="Phản hồi không đến từ hệ thống xác thực mong đợi.",
                                   retry=True), 400
        try:
            token = idp.authorize_access_token(claims_options={
                "iss": {"essential": True, "value": cfg["issuer"]},
                "aud": {"essential": True, "value": cfg["client_id"]},
                "sub": {"essential": True},
                "acr": {"essential": True},
                "auth_time": {"essential": True},
            }, leeway=CLOCK_SKEW)
            if "userinfo" not in token:
                raise ValueError("no ID token in the token response")
            claims = dict(token["userinfo"])
            info = dict(idp.userinfo(token=token))
            if info.get("sub") != claims["sub"]:
                raise ValueError("userinfo sub differs from the ID token's")
        except (AuthlibBaseError, JoseError, ValueError) as exc:
            log.warning("login failed: %s", exc)
            return render_template("error.html", title="Đăng nhập không thành công",
                                   message="Không xác minh được phản hồi của hệ thống xác thực. "
                                           "Vui lòng đăng nhập lại.", retry=True), 400
        except Exception as exc:  # noqa: BLE001 - IdP unreachable during the exchange
            log.warning("token exchange failed: %r", exc)
            return render_template("error.html", title="Không kết nối được hệ thống xác thực",
                                   message="Vui lòng thử lại sau ít phút.", retry=True), 503
        if not acr_at_least(claims.get("acr"), pending["acr"]):
            return render_template("error.html", title="Chưa đủ mức xác thực",
                                   message=f"Chức năng này cần xác thực "
                                           f"{ACR_LABELS.get(pending['acr'], pending['acr'])}.",
                                   retry=True), 403
        # Session rotation: a new record and a new cookie content at every login/step-up.
        if g.record is not None:
            store.revoke(g.record.id)
        record = store.create(cfg["issuer"], claims, info, token["id_token"])
        flashes = session.get("_flashes")
        session.clear()
        if flashes:
            session["_flashes"] = flashes
        session.permanent = True
        session["rec"] = record.id
        session["csrf"] = secrets.token_urlsafe(24)
        return redirect(_safe_next(pending.get("next")))

    @app.get("/thong-tin")
    def citizen():
        response = login_required()
        if response is not None:
            return response
        return render_template("citizen.html", claims=g.record.claims, info=g.record.userinfo)

    @app.route("/nop-ho-so", methods=["GET", "POST"])
    def submit_case():
        response = login_required(cfg["submit_acr"])
        if response is not None:
            return response
        if request.method == "POST":
            check_csrf()
            procedure = request.form.get("procedure", "")
            if procedure not in dict(cfg["theme"].get("procedures", [])):
                flash("Vui lòng chọn thủ tục.", "error")
                return render_template("submit.html"), 400
            code = "000.00.{:02d}.H15-{}-{:04d}".format(
                secrets.randbelow(90) + 10, time.strftime("%y%m%d"), secrets.randbelow(9999) + 1)
            return render_template("submitted.html", code=code,
                                   procedure=dict(cfg["theme"]["procedures"])[procedure])
        return render_template("submit.html")

    @app.get("/chuc-nang/<slug>")
    def placeholder(slug):
        titles = {slug_: title for title, slug_ in cfg["theme"].get("nav", [])}
        if slug not in titles:
            abort(404)
        return render_template("placeholder.html", title=titles[slug])

    @app.post("/dang-xuat")
    def logout():
        check_csrf()
        record = g.record
        flashes = session.get("_flashes")
        session.clear()
        if flashes:
            session["_flashes"] = flashes
        if record is None:
            return redirect(url_for("home"))
        store.revoke(record.id)
        try:
            metadata = idp.load_server_metadata()
        except Exception:  # noqa: BLE001
            metadata = {}
        if not metadata.get("end_session_endpoint"):
            flash("Bạn đã đăng xuất khỏi cổng.", "success")
            return redirect(url_for("home"))
        state = secrets.token_urlsafe(16)
        session["logout_state"] = state
        result = idp.create_logout_url(post_logout_redirect_uri=cfg["base_url"] + "/",
                                       id_token_hint=record.id_token, state=state,
                                       client_id=cfg["client_id"])
        return redirect(result["url"])

    # ------------------------------------------------------------------ back-channel logout
    def _keyset(force: bool) -> KeySet:
        if force:
            with jwks_state["lock"]:
                if time.monotonic() - jwks_state["last_forced"] < JWKS_REFETCH_INTERVAL:
                    raise InvalidKeyIdError("unknown kid (JWKS refetched recently)")
                jwks_state["last_forced"] = time.monotonic()
                return KeySet.import_key_set(idp.fetch_jwk_set(force=True))
        return KeySet.import_key_set(idp.fetch_jwk_set())

    def validate_logout_token(token: str) -> dict:
        """OpenID Connect Back-Channel Logout 1.0 §2.6; raises ValueError."""
        metadata = idp.load_server_metadata()
        algs = [a for a in metadata.get("id_token_signing_alg_values_supported", ["ES256"])
                if a != "none"]
        registry = JWSRegistry(algorithms=algs)
        try:
            try:
                decoded = jwt.decode(token, _keyset(False), registry=registry)
            except InvalidKeyIdError:
                decoded = jwt.decode(token, _keyset(True), registry=registry)
        except (JoseError, ValueError) as exc:
            raise ValueError(f"signature: {exc}") from None
        typ = decoded.header.get("typ")
        if typ is not None and typ.lower() not in ("logout+jwt", "application/logout+jwt",
                                                   "jwt"):
            raise ValueError("typ")
        c = decoded.claims
        t = time.time()
        if c.get("iss") != cfg["issuer"]:
            raise ValueError("iss")
        aud = c.get("aud")
        if not (aud == cfg["client_id"] or (isinstance(aud, list) and cfg["client_id"] in aud)):
            raise ValueError("aud")
        iat = c.get("iat")
        if not isinstance(iat, (int, float)) or iat > t + CLOCK_SKEW \
                or iat < t - LOGOUT_TOKEN_MAX_AGE:
            raise ValueError("iat")
        exp = c.get("exp")
        if exp is not None and (not isinstance(exp, (int, float)) or exp < t - CLOCK_SKEW):
            raise ValueError("exp")
        events = c.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
            raise ValueError("events")
        if "nonce" in c:
            raise ValueError("nonce")
        if not isinstance(c.get("jti"), str) or not c["jti"]:
            raise ValueError("jti")
        sid, sub = c.get("sid"), c.get("sub")
        if not sid and not sub:
            raise ValueError("sid/sub")
        if (sid is not None and not isinstance(sid, str)) or \
                (sub is not None and not isinstance(sub, str)):
            raise ValueError("sid/sub")
        # The client is registered with backchannel_logout_session_required = true.
        if cfg.get("backchannel_session_required", True) and not sid:
            raise ValueError("sid required")
        return c

    @app.post("/auth/backchannel-logout")
    def backchannel_logout():
        headers = {"Cache-Control": "no-store"}
        token = request.form.get("logout_token", "")
        if not token or len(token) > 8192:
            return jsonify(error="invalid_request", error_description="logout_token missing"), \
                400, headers
        try:
            claims = validate_logout_token(token)
        except ValueError as exc:
            log.warning("back-channel logout refused: %s", exc)
            return jsonify(error="invalid_request",
                           error_description=f"invalid logout_token ({exc})"), 400, headers
        except Exception as exc:  # noqa: BLE001 - the IdP's JWKS unreachable
            log.warning("back-channel logout: cannot validate: %r", exc)
            return jsonify(error="temporarily_unavailable"), 503, headers
        if store.remember_jti(claims["jti"], LOGOUT_TOKEN_MAX_AGE + CLOCK_SKEW):
            count = store.revoke_by(cfg["issuer"], claims.get("sid"), claims.get("sub"))
            log.info("back-channel logout: %d session(s) ended", count)
        # A replayed jti was already processed: the answer stays 200 (idempotent for retries).
        return "", 200, headers

    @app.errorhandler(400)
    def bad_request(exc):
        return render_template("error.html", title="Yêu cầu không hợp lệ",
                               message=getattr(exc, "description", "")), 400

    @app.errorhandler(404)
    def not_found(exc):
        return render_template("error.html", title="Không tìm thấy trang",
                               message="Trang bạn tìm không tồn tại."), 404

    return app
