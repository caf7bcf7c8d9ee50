"""The portal's error page: one template and one wording style for protocol failures, refused
forms and unknown pages, so that a citizen never sees a bare error or a protocol term."""
from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException


def error_page(title: str, message: str, status: int,
               retry: bool = False) -> tuple[str, int]:
    """error.html with `title` and `message`; `retry` offers "Đăng nhập lại" (login failures)."""
    return render_template("error.html", title=title, message=message, retry=retry), status


def bad_request(exc: HTTPException) -> tuple[str, int]:
    """400 (e.g. check_csrf): the abort description is already citizen-facing Vietnamese."""
    return error_page("Yêu cầu không hợp lệ", getattr(exc, "description", ""), 400)


def not_found(exc: HTTPException) -> tuple[str, int]:
    return error_page("Không tìm thấy trang", "Trang bạn tìm không tồn tại.", 404)


def install(app: Flask) -> None:
    app.register_error_handler(400, bad_request)
    app.register_error_handler(404, not_found)
