"""The VNeID stand-in's HTML pages (Vietnamese) and how it answers with them."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import render_template_string

TITLE = "Đăng nhập bằng tài khoản định danh điện tử VNeID (môi trường thử nghiệm)"

LOGIN_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 1rem auto; padding: 0 1rem; }
  h1 { font-size: 1.3rem; color: #b3171d; }
  ul.citizens { list-style: none; padding: 0; }
  ul.citizens li { margin: 0 0 0.75rem; }
  button { min-height: 44px; width: 100%; padding: 0.5rem 0.75rem; font-size: 1rem;
           text-align: left; cursor: pointer; }
</style></head>
<body>
<h1>{{ title }}</h1>
<p>Ứng dụng <strong>{{ client_id }}</strong> đề nghị đăng nhập bằng tài khoản VNeID.
Chọn công dân thử nghiệm để đăng nhập.</p>
<form method="post" action="{{ action }}">
  {% for name, value in hidden.items() %}
  <input type="hidden" name="{{ name }}" value="{{ value }}">
  {% endfor %}
  <ul class="citizens">
  {% for c in citizens %}
    <li data-pid="{{ c.pid }}">
      <button type="submit" name="citizen" value="{{ c.pid }}">
        <span class="name">{{ c.full_name }}</span> —
        số định danh cá nhân <span class="pid">{{ c.pid }}</span> —
        tài khoản định danh điện tử mức <span class="level">{{ c.level }}</span>
      </button>
    </li>
  {% endfor %}
  </ul>
  <button type="submit" name="cancel" value="1">Hủy</button>
</form>
</body></html>"""

MESSAGE_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{{ heading }} — VNeID</title></head>
<body><h1>{{ heading }}</h1><p>{{ text }}</p></body></html>"""

PROFILE_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Thông tin tài khoản — VNeID</title></head>
<body><h1>Thông tin tài khoản định danh điện tử</h1>
<dl>
  <dt>Họ và tên</dt><dd class="name">{{ c.full_name }}</dd>
  <dt>Số định danh cá nhân</dt><dd class="pid">{{ c.pid }}</dd>
  <dt>Ngày sinh</dt><dd class="birth">{{ c.birth_date }}</dd>
  <dt>Mức tài khoản</dt><dd class="level">{{ c.level }}</dd>
</dl></body></html>"""


def login_page(**context: Any) -> str:
    return render_template_string(LOGIN_PAGE, title=TITLE, **context)


def message(heading: str, text: str, status: int = 200) -> Any:
    return render_template_string(MESSAGE_PAGE, heading=heading, text=text), status, \
        {"Content-Type": "text/html; charset=utf-8"}


def profile(citizen: Any) -> Any:
    return render_template_string(PROFILE_PAGE, c=citizen)


def redirect_to(uri: str, params: list[tuple[str, str]], literal: tuple[str, ...] = ()) -> Any:
    """A 302 whose Location is built by hand: the values named in `literal` (Base64: the
    encrypted code, encrypt_key) keep `+`, `/` and `=` unescaped, as VNeID sends them;
    the others are percent-encoded."""
    parts = [f"{name}={quote(value, safe='+/=' if name in literal else '')}"
             for name, value in params]
    joiner = "&" if "?" in uri else "?"
    return "", 302, {"Location": f"{uri}{joiner}{'&'.join(parts)}"}
