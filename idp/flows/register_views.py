"""Blueprint `register`: GET /register/from/<flow_id> — "Chưa có tài khoản? Đăng ký" on the
login page hands the login flow's pending authorization to a new `register` flow (as
recovery_views.from_login does for "Quên mật khẩu?"). When the registration finishes the
citizen is logged in and the authorization resumes. An RP can also ask for registration
directly with prompt=create (policy.decide)."""
from __future__ import annotations

from flask import Blueprint

from idp.interaction.engine import hand_over_login

bp = Blueprint("register", __name__)


@bp.get("/register/from/<flow_id>")
def from_login(flow_id: str):
    return hand_over_login(flow_id, "register")
