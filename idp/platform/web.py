"""Everything every request shares: client address behind proxies, language, CSRF, security
headers, and the error pages (bad input -> 4xx page in the user's language; a database that
cannot answer -> 503; never a stack trace)."""
from __future__ import annotations

import logging

import redis
from flask import Flask, g, jsonify, make_response, render_template, request
from flask_babel import Babel
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from limits.errors import StorageError
from sqlalchemy.exc import DataError, SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from idp.platform import i18n
from idp.platform.db import db, is_unavailable

log = logging.getLogger("idp")
csrf = CSRFProtect()
babel = Babel()

LOCALES = ("vi", "en")
# Paths that answer machines (JSON), not people (HTML).
API_PREFIXES = ("/token", "/userinfo", "/revoke", "/introspect", "/jwks.json",
                "/.well-known/", "/healthz", "/readyz", "/metrics")


def client_ip() -> str | None:
    return request.remote_addr


def wants_json() -> bool:
    return request.path.startswith(API_PREFIXES)


def select_locale() -> str:
    """Vietnamese unless the citizen chose English (language switch, `lang` cookie) or the RP
    asked for it (`ui_locales`). Accept-Language is deliberately not used: many citizens'
    phones are set to English, and the portals they come from are Vietnamese."""
    chosen = g.get("locale_override")
    if chosen in LOCALES:
        return chosen
    cookie = request.cookies.get("lang")
    if cookie in LOCALES:
        return cookie
    from flask import current_app
    return current_app.config["IDP"]["default_locale"]


def _language_choice():
    """`?lang=vi|en` (the language switch on every page) wins and is remembered in a cookie."""
    lang = request.args.get("lang")
    if lang in LOCALES:
        g.locale_override = lang
        g.remember_lang = lang


def _remember_language(response):
    if g.get("remember_lang"):
        response.set_cookie("lang", g.remember_lang, max_age=365 * 24 * 3600, path="/",
                            samesite="Lax", httponly=True,
                            secure=request.is_secure or request.headers.get(
                                "X-Forwarded-Proto") == "https")
    return response


def dependency_down(exc: BaseException) -> bool:
    """True when `exc` means the database or Redis cannot answer now (the request fails
    closed with 503 or OAuth temporarily_unavailable, and may be retried)."""
    if isinstance(exc, (redis.RedisError, StorageError)):
        return True
    return isinstance(exc, SQLAlchemyError) and is_unavailable(exc)


def render_error(status: int, title: str, message: str):
    if wants_json():
        body = {"error": "temporarily_unavailable" if status == 503 else "invalid_request",
                "error_description": "The service is temporarily unavailable"
                if status == 503 else "Bad request"}
        return jsonify(body), status, {"Cache-Control": "no-store"}
    return render_template("error.html", title=title, message=message), status


def allow_connect(*sources: str) -> None:
    """Let this response's page also open connections to `sources` (CSP connect-src): the
    certificate sign-in page reaches the USB signing plugin on the citizen's PC at
    wss://localhost:4433-4435 (idp/static/usb-signer.js). Every other page stays at 'self'."""
    g.csp_connect = tuple(g.get("csp_connect", ())) + sources


def _security_headers(response):
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        # RFC 9700 §4.16 / RFC 6749 §10.13: no framing of any page of ours.
        h.setdefault("X-Frame-Options", "DENY")
        connect = " ".join(("'self'",) + tuple(g.get("csp_connect", ())))
        h.setdefault("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                     f"style-src 'self'; script-src 'self'; connect-src {connect}; "
                     "form-action 'self' http: https:; "
                     "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
        h.setdefault("Cache-Control", "no-store")
    if request.is_secure or request.headers.get("X-Forwarded-Proto") == "https":
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def init_app(app: Flask) -> None:
    settings = app.config["IDP"]
    if settings["trusted_proxies"]:
        n = settings["trusted_proxies"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    i18n.ensure_compiled()
    app.add_template_global(i18n.switch_url, "lang_url")  # safe language-switch links
    from idp.platform import humanize
    humanize.register(app)  # citizen-facing levels, methods, times, phones, devices
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(i18n.TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = "vi"
    babel.init_app(app, locale_selector=select_locale)
    app.config["WTF_CSRF_FIELD_NAME"] = "csrf_token"
    csrf.init_app(app)
    app.before_request(_language_choice)
    app.after_request(_remember_language)
    app.after_request(_security_headers)

    @app.context_processor
    def _template_globals():
        from flask_babel import get_locale
        return {"current_locale": str(get_locale() or "vi"), "locales": LOCALES}

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        return render_error(400, _("Phiên làm việc đã hết hạn"),
                            _("Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang "
                              "và thử lại."))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        messages = {
            400: (_("Yêu cầu không hợp lệ"), _("Yêu cầu không hợp lệ.")),
            404: (_("Không tìm thấy trang"), _("Địa chỉ bạn truy cập không tồn tại.")),
            405: (_("Phương thức không được hỗ trợ"),
                  _("Trang này không hỗ trợ thao tác vừa thực hiện.")),
            413: (_("Dữ liệu gửi lên quá lớn"), _("Dữ liệu gửi lên vượt quá giới hạn cho phép.")),
            429: (_("Quá nhiều yêu cầu"), _("Bạn đã thử quá nhiều lần. Vui lòng thử lại sau.")),
        }
        title, message = messages.get(exc.code, (_("Yêu cầu không hợp lệ"), _("Yêu cầu không "
                                                                               "hợp lệ.")))
        # Keep the exception's own headers (e.g. Allow on 405, RFC 9110 §15.5.6).
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        if wants_json():
            return jsonify({"error": "invalid_request", "error_description": exc.name}), \
                exc.code or 400, headers
        return render_template("error.html", title=title, message=message), exc.code or 400, \
            headers

    @app.errorhandler(DataError)
    def _bad_data(exc):
        # A value the database refuses (e.g. NUL in a string on PostgreSQL): bad input, 400.
        db.session.rollback()
        log.warning("database refused a value: %s", exc.__class__.__name__)
        return render_error(400, _("Yêu cầu không hợp lệ"), _("Yêu cầu không hợp lệ."))

    @app.errorhandler(SQLAlchemyError)
    def _db_error(exc):
        db.session.rollback()
        if is_unavailable(exc):
            log.warning("database unavailable: %s", exc.__class__.__name__)
        else:
            log.exception("database error")
        return _unavailable()

    @app.errorhandler(redis.RedisError)
    @app.errorhandler(StorageError)
    def _store_error(exc):
        # Redis down or too slow: the request fails closed (503), no limit is skipped.
        log.warning("ephemeral store unavailable: %s", exc.__class__.__name__)
        return _unavailable()

    from idp.platform.keys import KeyError_

    @app.errorhandler(KeyError_)
    def _no_keys(exc):
        # Nodes never create keys themselves: an operator must run `idp init`.
        log.error("signing keys: %s", exc)
        return _unavailable()

    @app.errorhandler(Exception)
    def _unexpected(exc):
        log.exception("unexpected error")
        try:
            db.session.rollback()
        except Exception:  # pragma: no cover - the session itself may be broken
            pass
        return _unavailable(500)


def _unavailable(status: int = 503):
    response = make_response(render_error(
        status, _("Hệ thống tạm thời gián đoạn"),
        _("Hệ thống đang bận hoặc tạm thời gián đoạn. Vui lòng thử lại sau ít phút.")))
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response
