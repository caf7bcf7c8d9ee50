"""Test hooks (CONTRACT.md §6), registered by create_app only when IDP_TEST_HOOKS=1, which
production refuses at start-up. They reveal, never change: limits, expiry and single use apply
exactly as in production."""
from __future__ import annotations

import re

from flask import Blueprint, Response, abort, current_app

_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")

bp = Blueprint("testhooks", __name__, url_prefix="/_test")


@bp.get("/captcha/<captcha_id>")
def captcha_answer(captcha_id: str):
    """The current answer of a live challenge as text/plain; 404 once used, replaced or expired."""
    if not current_app.config["IDP"].get("test_hooks") or not _ID.fullmatch(captcha_id):
        abort(404)
    record = current_app.extensions["idp.store"].get(f"captcha-answer:{captcha_id}")
    if not record or not record.get("a"):
        abort(404)
    return Response(record["a"], mimetype="text/plain",
                    headers={"Cache-Control": "no-store"})
