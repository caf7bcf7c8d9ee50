"""Development page for the SMS outbox (CONTRACT.md §2: `outbox` = a JSON-lines file plus a dev
page): GET /_dev/sms lists the newest messages, so a developer can read the codes the demo
sends. Registered only when the outbox provider is used, which production refuses."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("devtools", __name__, url_prefix="/_dev")


@bp.get("/sms")
def sms_outbox():
    messages = list(reversed(current_app.extensions["idp.sms"].read(limit=50)))
    return render_template("dev_sms.html", messages=messages)
