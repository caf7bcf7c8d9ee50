"""Hosted pages render the contract (CONTRACT.md §7 field names, login.html's context), are
accessible (labels, required marks, errors tied to fields), obey the CSP (no inline script or
style) and switch language."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from flask import render_template

from idp.platform import captcha
from idp.platform.db import db
from tests.support.captcha import build_app


class Page(HTMLParser):
    """Every start tag as (tag, attributes) plus the visible text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self._script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._script = tag == "script"

    def handle_data(self, data):
        if self._script and data.strip():
            self.text.append("<inline script>")
        self.text.append(data)

    def find(self, tag=None, **attrs) -> list[dict]:
        return [a for t, a in self.tags if (tag is None or t == tag)
                and all(a.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())]

    def one(self, tag=None, **attrs) -> dict:
        found = self.find(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    @property
    def content(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture
def app(tmp_path):
    app = build_app(tmp_path)
    yield app
    with app.app_context():
        db.engine.dispose()


LOGIN = dict(action="/flows/f1", username="", errors={},
             client_name="Cổng dịch vụ công tỉnh Đắk Lắk", forgot_url="/recovery",
             register_url="/register", refresh_captcha_url="/flows/f1")


def render(app, template, path="/flows/f1", lang="vi", **context) -> Page:
    with app.test_request_context(path, headers={"Cookie": f"lang={lang}"}):
        if template == "login.html" and "captcha_id" not in context:
            context["captcha_id"] = captcha.issue(app.extensions["idp.store"], 180)
        return Page(render_template(template, **context))


def assert_csp_clean(page: Page):
    assert "<inline script>" not in page.text
    for tag, attrs in page.tags:
        assert "style" not in attrs, f"inline style on <{tag}>"
        assert not [a for a in attrs if a.startswith("on")], f"inline handler on <{tag}>"
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/")
    assert not page.find("style")


def test_login_page_has_the_contract_fields(app):
    page = render(app, "login.html", **LOGIN)
    form = page.one("form", method="post")
    assert form["action"] == "/flows/f1"
    assert page.one("input", name="csrf_token")["type"] == "hidden"
    username = page.one("input", name="username")
    assert username["autocomplete"] == "username"
    assert username["inputmode"] == "numeric"
    assert username["placeholder"] == "Nhập CMT/CCCD"
    assert "required" in username
    password = page.one("input", name="password")
    assert password["type"] == "password" and password["autocomplete"] == "current-password"
    answer = page.one("input", name="captcha")
    assert answer["autocomplete"] == "off" and answer["autocapitalize"] == "off"
    captcha_id = page.one("input", name="captcha_id")
    assert captcha_id["type"] == "hidden"
    image = page.one("img", alt="Mã xác thực dạng hình ảnh")
    assert image["src"] == f"/captcha/{captcha_id['value']}.png"
    assert page.one("a", href=f"/captcha/{captcha_id['value']}.wav")
    refresh = page.one("a", href="/flows/f1")
    assert refresh["data-endpoint"] == "/captcha/refresh"
    submit = page.one("button", type="submit")
    assert (submit["name"], submit["value"]) == ("action", "login")
    for text in ("Tên đăng nhập", "Mật khẩu", "Mã xác thực", "Đổi mã khác", "Nghe mã xác thực",
                 "Quên mật khẩu?", "Đăng nhập", "Chưa có tài khoản? Đăng ký", "CMT/CCCD",
                 "USB ký số", "SIM ký số",
                 "Đăng nhập để tiếp tục đến Cổng dịch vụ công tỉnh Đắk Lắk",
                 "Tổng đài hỗ trợ: 1800 1096", "Hệ thống xác thực công dân", "Cổng dịch vụ công"):
        assert text in page.content, text
    assert page.one("a", href="/recovery") and page.one("a", href="/register")
    assert len(page.find("span", aria_disabled="true")) == 2
    assert page.one("html")["lang"] == "vi"
    assert page.one("main")["id"] == "main" and page.one("a", href="#main")
    assert_csp_clean(page)


def test_every_login_input_has_a_label_and_required_fields_are_marked(app):
    page = render(app, "login.html", **LOGIN)
    labelled = {a["for"] for a in page.find("label")}
    for name in ("username", "password", "captcha"):
        field = page.one("input", name=name)
        assert field["id"] in labelled
        assert "required" in field
    assert len(page.find("span", class_="req")) == 3
    assert all(a.get("aria-hidden") == "true" for a in page.find("span", class_="req"))


def test_login_without_optional_links_or_client_name(app):
    page = render(app, "login.html", **{**LOGIN, "forgot_url": None, "register_url": None,
                                        "client_name": None, "errors": None})
    assert "Quên mật khẩu?" not in page.content
    assert "Chưa có tài khoản?" not in page.content
    assert "tiếp tục đến" not in page.content
    assert not page.find(role="alert")


def test_login_errors_are_announced_and_tied_to_their_fields(app):
    page = render(app, "login.html", **{**LOGIN, "username": "0660",
                                        "errors": {"form": "Lỗi chung", "username": "Sai số",
                                                   "captcha": "Sai mã"}})
    alert = page.one(role="alert")
    assert "Lỗi chung" in page.content and alert["class"] == "error-summary"
    # The error summary takes the focus and links to each field in error (issue 12).
    assert alert["tabindex"] == "-1" and "autofocus" in alert
    assert [a["href"] for a in page.find("a") if a.get("href", "").startswith("#")
            and a["href"] != "#main"] == ["#password", "#username", "#captcha"]
    assert not [a for t, a in page.tags if t == "input" and "autofocus" in a]
    username = page.one("input", name="username")
    assert username["value"] == "0660"
    assert username["aria-invalid"] == "true"
    assert "username-error" in username["aria-describedby"].split()
    assert page.one("p", id="username-error")["class"] == "field-error"
    answer = page.one("input", name="captcha")
    assert answer["aria-invalid"] == "true"
    assert "captcha-error" in answer["aria-describedby"].split()
    assert page.one("p", id="captcha-error")
    # Fields without an error are not marked invalid; secrets are never echoed back.
    assert "aria-invalid" not in page.one("input", name="password")
    assert "value" not in page.one("input", name="password")
    assert "value" not in answer


def test_values_are_escaped(app):
    page = render(app, "login.html", **{**LOGIN, "client_name": '<script>alert(1)</script>',
                                        "username": '"><script>x</script>'})
    assert not page.find("script", src=None)
    assert [t for t, _ in page.tags].count("script") == 1
    assert "<script>alert(1)</script>" in page.content  # shown as text


def test_language_switch_keeps_path_and_query_and_renders_english(app):
    page = render(app, "login.html", path="/flows/f1?a=1&lang=vi&b=x%20y", lang="en", **LOGIN)
    assert page.one("html")["lang"] == "en"
    hrefs = [a["href"] for a in page.find("a", hreflang="vi") + page.find("a", hreflang="en")]
    assert hrefs == ["/flows/f1?a=1&b=x+y&lang=vi", "/flows/f1?a=1&b=x+y&lang=en"]
    assert page.one("a", hreflang="en")["aria-current"] == "true"
    for text in ("Sign in", "Username", "Password", "Verification code", "Forgot your password?",
                 "Sign in to continue to Cổng dịch vụ công tỉnh Đắk Lắk"):
        assert text in page.content, text
    assert "Tên đăng nhập" not in page.content


def test_consent_page(app):
    page = render(app, "consent.html", action="/flows/f2", client_name="Cổng DVC",
                  claims=["Họ và tên, giới tính, ngày sinh", "Số điện thoại di động"])
    assert page.one("form", method="post")["action"] == "/flows/f2"
    assert page.one("input", name="csrf_token")
    buttons = [(b["name"], b["value"]) for b in page.find("button", type="submit")]
    assert buttons == [("action", "allow"), ("action", "deny")]
    for text in ("Đồng ý", "Từ chối", "Cổng DVC", "Họ và tên, giới tính, ngày sinh",
                 "Số điện thoại di động"):
        assert text in page.content
    assert_csp_clean(page)


def test_error_and_info_pages(app):
    page = render(app, "error.html", title="Không tìm thấy trang", message="Không có.",
                  back_url="/back")
    assert "Không tìm thấy trang" in page.content and page.one(role="alert")
    assert page.one("a", href="/back")
    page = render(app, "error.html", title="T", message="M")
    assert not page.find("a", class_="btn btn--secondary")
    page = render(app, "info.html", title="Đã đăng xuất", message="Bạn đã đăng xuất.",
                  link_url="/next", link_text="Về trang chủ")
    assert page.one(role="status") and page.one("a", href="/next")
    assert "Về trang chủ" in page.content
    assert_csp_clean(page)


def test_the_404_page_of_the_app_uses_the_layout(app):
    response = app.test_client().get("/captcha/AAAAAAAAAAAAAAAAAAAAAA.png")
    assert response.status_code == 404
    page = Page(response.get_data(as_text=True))
    assert "Không tìm thấy trang" in page.content
    assert_csp_clean(page)


def test_static_assets_are_served(app):
    client = app.test_client()
    css = client.get("/static/idp.css")
    js = client.get("/static/idp.js")
    assert css.status_code == 200 and b".btn--primary" in css.data
    assert js.status_code == 200
    assert b"X-CSRFToken" in js.data and b"data-endpoint" in js.data  # URL comes from markup
    for body in (css.data, js.data):
        assert b"http://" not in body and b"https://" not in body  # no CDN, no external font
    css.close()
    js.close()
