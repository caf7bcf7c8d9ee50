"""The portal's browser-facing defences: response headers, CSRF tokens for its forms and
open-redirect-proof `next` targets. Kept apart from the views so every form and redirect uses
the same checks."""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Response, abort, g, request, session

from portals.state import portal


def security_headers(response: Response) -> Response:
    """after_request: a strict CSP (forms may post only to the portal and the IdP), no framing,
    no referrer (authorization responses carry codes in the URL), and no caching of anything
    personal or of the /auth/ protocol steps."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self' " + portal().config["issuer"]
        + "; base-uri 'none'")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if g.get("record") is not None or request.path.startswith("/auth/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def csrf_token() -> str:
    """The session's CSRF token (created on first use); a template global for the forms."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def check_csrf() -> None:
    """Aborts with 400 unless the form echoes the session's token (constant-time compare)."""
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, "Phiên làm việc đã hết hạn hoặc yêu cầu không hợp lệ. Vui lòng thử lại.")


def safe_next(target: str | None) -> str:
    """Only local paths (no scheme, no host, no '//' or backslash tricks): a `next` taken from
    the query must never turn the portal into an open redirector."""
    if not target or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or urlsplit(target).netloc:
        return "/"
    return target
