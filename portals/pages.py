"""Blueprint "pages": what the citizen sees of a portal. The public home page, the citizen's
information (/thong-tin, any level; an organisation's view when the IdP's `LoaiTaiKhoan`
says a business or an agency signed in), the case submission (/nop-ho-so, the portal's
`submit_acr`, hence a step-up) and placeholder pages for the other menu entries of the theme."""
from __future__ import annotations

import hmac
import secrets
import time

from flask import Blueprint, abort, flash, g, render_template, request, session
from flask.typing import ResponseReturnValue

from portals.auth import login_required
from portals.security import check_csrf
from portals.state import portal

bp = Blueprint("pages", __name__)


def mask_name(full_name: str) -> str:
    """Public lists show the family name and initials only: "PHẠM QUỐC HÙNG" -> "PHẠM Q. H."."""
    parts = full_name.split()
    if not parts:
        return ""
    return " ".join([parts[0]] + [p[0] + "." for p in parts[1:]])


@bp.get("/")
def home() -> ResponseReturnValue:
    """Also the post-logout landing: the logout is confirmed only when the IdP sends back the
    `state` the portal gave it (portals.auth.logout), not to anyone opening /?state=…"""
    state = request.args.get("state")
    expected = session.pop("logout_state", None)
    if state and expected and hmac.compare_digest(state, expected):
        flash("Bạn đã đăng xuất khỏi cổng và hệ thống xác thực.", "success")
    return render_template("home.html")


@bp.get("/thong-tin")
def citizen() -> ResponseReturnValue:
    response = login_required()
    if response is not None:
        return response
    claims, info = g.record.claims, g.record.userinfo
    # LoaiTaiKhoan (dvcqg scope): "1" a citizen, "2" a business, "3" an agency.
    kind = str(info.get("LoaiTaiKhoan") or claims.get("LoaiTaiKhoan") or "1")
    if kind in ("2", "3"):
        return render_template("organisation.html", claims=claims, info=info, kind=kind)
    return render_template("citizen.html", claims=claims, info=info)


@bp.route("/nop-ho-so", methods=["GET", "POST"])
def submit_case() -> ResponseReturnValue:
    """A demo submission: checks the level and the form, then shows a made-up case code in
    the provincial format; nothing is stored."""
    cfg = portal().config
    response = login_required(cfg["submit_acr"])
    if response is not None:
        return response
    if request.method == "POST":
        check_csrf()
        procedures = dict(cfg["theme"].get("procedures", []))
        procedure = request.form.get("procedure", "")
        if procedure not in procedures:
            flash("Vui lòng chọn thủ tục.", "error")
            return render_template("submit.html"), 400
        code = "000.00.{:02d}.H15-{}-{:04d}".format(
            secrets.randbelow(90) + 10, time.strftime("%y%m%d"), secrets.randbelow(9999) + 1)
        return render_template("submitted.html", code=code, procedure=procedures[procedure])
    return render_template("submit.html")


@bp.get("/chuc-nang/<slug>")
def placeholder(slug: str) -> ResponseReturnValue:
    """The theme's other menu entries: a titled page, 404 for any other slug."""
    titles = {slug_: title for title, slug_ in portal().config["theme"].get("nav", [])}
    if slug not in titles:
        abort(404)
    return render_template("placeholder.html", title=titles[slug])
