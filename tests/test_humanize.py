"""Issue 12 item 5, citizen-facing text: the formatters of idp/humanize.py and
portals/humanize.py (levels, methods, Vietnam time, phones, yes/no, gender, devices), the
birth date typed as dd/mm/yyyy or YYYY-MM-DD, and pages that show no protocol jargon: the
IdP's account page and the portal's "Thông tin công dân" over HTTP."""
from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest

from idp.accounts import validation as v
from idp.platform import humanize as h
from idp.platform.crypto import sha256_hex
from idp.platform.db import db
from idp.platform.models import Citizen, SsoSession
from portals import humanize as ph
from tests.support import CITIZEN

ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Chrome/124.0.0.0 Mobile Safari/537.36")
IPHONE_SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
WINDOWS_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
LINUX_HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "HeadlessChrome/130.0.0.0 Safari/537.36")
MAC_EDGE = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80")

# What a citizen page must never show (issue 12): claim values, epochs, raw booleans, raw
# user agents, ISO dates.
JARGON = re.compile(r"\b(pwd|mfa|LoA[123]|False|True|None|auth_time|userinfo)\b|Mozilla/5\.0"
                    r"|\b1[0-9]{9}\b|\b(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}\b")


def visible_text(html: str) -> str:
    """The page's text without tags, attributes, scripts or styles."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"(?s)<[^>]*>", " ", html))


# --------------------------------------------------------------------------- formatters

@pytest.mark.parametrize("mod", [h, ph], ids=["idp", "portals"])
def test_levels_and_methods_in_words(mod):
    assert mod.acr_label("LoA1") == "Mức 1 (mật khẩu)"
    assert mod.acr_label("LoA2") == "Mức 2 (mật khẩu + mã OTP)"
    assert mod.acr_label("LoA3") == "Mức 3 (chữ ký số)"
    assert mod.acr_label(None) == mod.acr_label("bogus") == "Không xác định"
    assert mod.amr_label(["pwd", "sms", "mfa"]) == "mật khẩu + mã OTP qua SMS"
    assert mod.amr_label(["pwd", "otp", "mfa"]) == "mật khẩu + mã OTP từ ứng dụng xác thực"
    assert mod.amr_label("pwd") == "mật khẩu"
    assert mod.amr_label(["mfa"]) == mod.amr_label(None) == "Không xác định"


@pytest.mark.parametrize("mod", [h, ph], ids=["idp", "portals"])
def test_times_are_vietnam_time_day_first(mod):
    # 2026-12-02 17:05 UTC is 03/12/2026 00:05 in Hà Nội (UTC+7, no daylight saving).
    epoch = dt.datetime(2026, 12, 2, 17, 5, tzinfo=dt.UTC).timestamp()
    assert mod.datetime_vn(epoch) == "03/12/2026 00:05"
    assert mod.datetime_vn(int(epoch)) == "03/12/2026 00:05"
    assert mod.datetime_vn(str(int(epoch))) == "03/12/2026 00:05"
    summer = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    assert mod.datetime_vn(summer) == "01/07/2026 19:00"
    assert mod.datetime_vn(dt.datetime(2026, 7, 1, 12, 0)) == "01/07/2026 19:00"  # naive = UTC
    for odd in (None, "", "soon", True, float("nan"), 10 ** 30):
        assert mod.datetime_vn(odd) == ""
    assert mod.date_vn("1989-03-15") == "15/03/1989"
    assert mod.date_vn(dt.date(1989, 3, 15)) == "15/03/1989"
    assert mod.date_vn("1989-02-30") == "1989-02-30"  # not a date: shown as given


def test_portal_reads_the_dvcqg_date_form():
    assert ph.date_vn("19890315") == "15/03/1989"


@pytest.mark.parametrize("mod", [h, ph], ids=["idp", "portals"])
def test_phones_booleans_and_gender(mod):
    assert mod.phone_national("+84941234947") == "0941 234 947"
    assert mod.phone_national("0941234947") == "0941 234 947"
    assert mod.phone_national("12345") == "12345"
    assert mod.phone_national(None) == ""
    assert mod.yes_no(True) == "Có" and mod.yes_no(False) == "Không"
    assert mod.yes_no("false") == "Không" and mod.yes_no(None) == "Không"
    assert mod.gender_label("male") == "Nam" and mod.gender_label("female") == "Nữ"
    assert mod.gender_label(1) == "Nam" and mod.gender_label(2) == "Nữ"
    assert mod.gender_label("x") == "Không xác định"


def test_masked_phone_uses_the_project_rule():
    assert h.phone_masked("+84941234947") == "0941xxx947"
    assert h.phone_masked(None) == ""


@pytest.mark.parametrize("ua, label", [
    (ANDROID_CHROME, "Chrome trên Android"),
    (IPHONE_SAFARI, "Safari trên iOS"),
    (WINDOWS_FIREFOX, "Firefox trên Windows"),
    (LINUX_HEADLESS, "Chrome trên Linux"),
    (MAC_EDGE, "Edge trên macOS"),
    ("", "Trình duyệt không xác định"),
    (None, "Trình duyệt không xác định"),
    ("??? ☃ <>", "Trình duyệt không xác định"),
    ("curl/8.5.0", "curl"),  # a program, not a browser: its name as the parser knows it
    ("x" * 100_000, "Trình duyệt không xác định"),
])
def test_devices_in_words(ua, label):
    assert h.device_label(ua) == label


def test_labels_follow_the_page_language(sqlite_app):
    with sqlite_app.test_request_context("/", headers={"Cookie": "lang=en"}):
        assert h.acr_label("LoA2") == "Level 2 (password + one-time code)"
        assert h.device_label(ANDROID_CHROME) == "Chrome on Android"
        assert h.yes_no(True) == "Yes"


# --------------------------------------------------------------------------- birth date

@pytest.mark.parametrize("text", ["15/03/1989", "15/3/1989", "15.03.1989", " 15-03-1989 ",
                                  "1989-03-15"])
def test_birth_date_typed_day_first_or_iso(text):
    assert v.parse_birth_date(text) == dt.date(1989, 3, 15)


@pytest.mark.parametrize("text, code", [
    ("31/02/1990", "birth_date.invalid"),
    ("03/25/1990", "birth_date.invalid"),   # month/day order of a US browser: no 25th month
    ("25/03/90", "birth_date.format"),
    ("25031990", "birth_date.format"),
    ("01/01/2999", "birth_date.future"),
    ("31/12/1899", "birth_date.too_old"),
])
def test_birth_date_errors_are_clear(text, code):
    with pytest.raises(v.ValidationError) as exc:
        v.parse_birth_date(text)
    assert exc.value.code == code and exc.value.field == "birth_date"
    if code == "birth_date.format":
        assert exc.value.message == "Ngày sinh phải có dạng ngày/tháng/năm, ví dụ 25/03/1990."


def test_registration_accepts_both_birth_date_forms(sqlite_app):
    from idp.flows.register import validate_form
    form = {"full_name": CITIZEN.full_name, "id_number": "066089009999",
            "gender": CITIZEN.gender, "phone": "0912000111", "email": "", "consent": "yes"}
    with sqlite_app.test_request_context("/"):
        for typed in ("15/03/1989", "1989-03-15"):
            person, errors = validate_form({**form, "birth_date": typed})
            assert "birth_date" not in errors and person["birth_date"] == "1989-03-15"


def test_registration_birth_date_is_a_day_first_text_field(sqlite_app):
    from flask import render_template
    with sqlite_app.test_request_context("/flows/f1"):
        html = render_template("register_form.html", action="/flows/f1", errors={},
                               values={"birth_date": "1989-03-15"}, account_type="citizen",
                               method="mobile", captcha_id="c1", refresh_captcha_url="/flows/f1")
    field = re.search(r'<input id="birth_date"[^>]*>', html).group(0)
    assert 'type="text"' in field and 'inputmode="numeric"' in field
    assert 'placeholder="dd/mm/yyyy"' in field and 'value="15/03/1989"' in field
    assert "Ví dụ: 25/03/1990" in html and "năm-tháng-ngày" not in html


# --------------------------------------------------------------------------- pages

def _sso_row(citizen_id: int, cookie: str, ua: str, acr="LoA2", age=0.0) -> SsoSession:
    t = time.time() - age
    return SsoSession(sid="sid-" + sha256_hex(cookie)[:12], cookie_hash=sha256_hex(cookie),
                      citizen_id=citizen_id, auth_time=int(t), acr=acr,
                      amr_json=json.dumps(["pwd", "sms", "mfa"]), created_at=t,
                      last_seen_at=time.time(), expires_at=time.time() + 3600,
                      user_agent=ua, ip="203.0.113.7")


def test_account_page_shows_devices_and_times_in_words(sqlite_app):
    with sqlite_app.app_context():
        citizen = db.session.query(Citizen).filter_by(id_number=CITIZEN.id_number).one()
        db.session.add_all([_sso_row(citizen.id, "cookie-here", ANDROID_CHROME),
                            _sso_row(citizen.id, "cookie-other", LINUX_HEADLESS, age=7200)])
        db.session.commit()
    client = sqlite_app.test_client()
    client.set_cookie("idp_sso", "cookie-here")
    page = client.get("/account/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = visible_text(html)
    assert "Chrome trên Android" in text and "Chrome trên Linux" in text
    assert "Mức 2 (mật khẩu + mã OTP)" in text
    assert re.search(r"\b[0-3][0-9]/[01][0-9]/20[0-9]{2} [0-2][0-9]:[0-5][0-9]\b", text)
    assert "0941xxx947" in text
    assert not JARGON.search(text), JARGON.search(text)


def _portal(tmp_path, dvcqg: bool):
    from portals.app import create_portal
    theme = {"header_title": "CỔNG THỬ NGHIỆM", "header_subtitle": "", "short_name": "Thử",
             "variant": "national" if dvcqg else "province", "nav": [("Nộp hồ sơ", "nop-ho-so")],
             "show_dvcqg": dvcqg, "procedures": []}
    return create_portal({"name": "t" + str(int(dvcqg)), "issuer": "http://127.0.0.1:9",
                          "client_id": "c", "client_secret": "s", "base_url": "http://127.0.0.1:8",
                          "instance_dir": str(tmp_path / ("p" + str(int(dvcqg)))),
                          "secret_key": "k" * 40, "theme": theme})


@pytest.mark.parametrize("dvcqg", [False, True], ids=["province", "national"])
def test_portal_citizen_page_is_a_readable_list(tmp_path, dvcqg):
    app = _portal(tmp_path, dvcqg)
    auth_time = int(dt.datetime(2026, 12, 2, 3, 4, tzinfo=dt.UTC).timestamp())
    claims = {"iss": "http://127.0.0.1:9", "sub": "sub-0-1234", "aud": "c", "acr": "LoA2",
              "amr": ["pwd", "sms", "mfa"], "auth_time": auth_time, "sid": "abc"}
    info = {"sub": "sub-0-1234", "name": CITIZEN.full_name, "gender": "male",
            "birthdate": "1989-03-15", "locale": "vi-VN", "updated_at": auth_time - 86400,
            "family_name": "Nguyễn", "given_name": "An", "phone_number": "+84941234947",
            "phone_number_verified": True, "email": "an@example.vn", "email_verified": False}
    if dvcqg:
        info.update({"SoDinhDanh": CITIZEN.id_number, "HoVaTen": CITIZEN.full_name,
                     "NgayThangNamSinh": "19890315", "GioiTinh": 1, "SoDienThoai": "0941234947",
                     "ThuDienTu": "an@example.vn", "LoaiTaiKhoan": "1", "TechID": "sub-0-1234",
                     "TrangThai": "1"})
    record = app.extensions["portal"].store.create(claims["iss"], claims, info, "id.token.x")
    client = app.test_client()
    with client.session_transaction() as s:
        s["rec"] = record.id
    page = client.get("/thong-tin")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = visible_text(html)
    for label, value in [("Họ và tên", CITIZEN.full_name), ("Ngày sinh", "15/03/1989"),
                         ("Giới tính", "Nam"), ("Số điện thoại", "0941 234 947"),
                         ("Email", "an@example.vn"),
                         ("Mức xác thực", "Mức 2 (mật khẩu + mã OTP)"),
                         ("Phương thức xác thực", "Mật khẩu + mã OTP qua SMS"),
                         ("Thời điểm đăng nhập", "02/12/2026 10:04")]:
        assert re.search(r"<dt>%s</dt>\s*<dd[^>]*>\s*%s" % (re.escape(label), re.escape(value)),
                         html), label
    assert ("Số CMND/CCCD" in text) == dvcqg
    assert "(đã xác minh: Có)" in text and "(đã xác minh: Không)" in text
    assert "<table" not in html  # no raw claim table
    assert not JARGON.search(text), JARGON.search(text)
    for raw in ("sms", "SoDinhDanh", "TechID", "sub-0-1234", "19890315", str(auth_time)):
        assert raw not in text, raw
    # The machine values stay available to tests and scripts, outside the visible text.
    assert 'data-acr="LoA2"' in html
