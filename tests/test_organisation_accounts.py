"""Issue 15 item 5, organisation accounts over HTTP: a business ("Doanh nghiệp", UID=MST) and
an agency ("Cơ quan nhà nước", UID=MNS, often with an MST) register by signing with the
organisation's certificate (flows/register/certificate.py: no password, a contact phone
proven by its code), then sign in with it (accounts/cert_accounts.py). The ID token and
userinfo say LoaiTaiKhoan 2 / 3 with the MST and the name (protocol/claims.py), so a portal
tells them from a citizen; the national portal shows its organisation view. An invalid MST
check digit is refused; a person's certificate that also carries an MST signs in the person
and cannot register the business. The schema change migrates (tests/test_migrations.py)."""
from __future__ import annotations

from tests.support import CITIZEN, cert_registration, hidden
from tests.support.cert_registration import (
    SCOPE,
    account,
    account_count,
    bindings,
    certificate_reauth,
    details,
    follow,
    html,
    loa3_login,
    message_of,
    post,
    resume,
    sign,
    start,
    token_for,
    tokens_of,
    verify,
)
from tests.support.oidc import auth_params, authorize, pkce_pair
from tests.support.registration import sent

# The shared fixtures: a test PKI on loopback and an app that trusts it.
served, app = cert_registration.served, cert_registration.app

MST = "0123456787"  # reference pki.md §7's worked example: a valid check digit
COMPANY = "Công ty TNHH Thử Nghiệm Số 1"
AGENCY_MST, MNS = "0100000010", "1000000"
AGENCY = "Sở Thử Nghiệm"
CONTACT = "+84912000444"


def company(served, mst=MST, **issue):
    return token_for(served, (f"MST:{mst}",), COMPANY, **issue)


def agency(served):
    return token_for(served, (f"MST:{AGENCY_MST}", f"MNS:{MNS}"), AGENCY,
                     org="UBND Tỉnh Thử Nghiệm", ca="gov")


def register(app, client, token, account_type, params=None):
    """Sign, the organisation's details, the contact phone's code: "Đăng ký thành công"."""
    page = follow(client, sign(client, start(client, account_type, params=params), token))
    assert 'name="legal_representative"' in html(page) and 'name="birth_date"' not in html(page)
    r = details(client, page, legal_representative="", phone="0912000444")
    assert r.status_code == 400 and 'data-msg="organisation.representative_required"' in html(r)
    code_page = follow(client, details(client, r, legal_representative="Nguyễn Văn Đại Diện",
                                       phone="0912000444", email="lienhe@example.vn"))
    done = verify(app, client, code_page, CONTACT)
    assert "Đăng ký thành công" in html(done), html(done)[:1500]
    assert 'name="password"' not in html(done)
    return done


def test_a_business_registers_and_its_tokens_say_so(app, client, served):
    verifier, challenge = pkce_pair()
    params = auth_params(challenge=challenge, prompt="create", scope=SCOPE)
    done = register(app, client, company(served), "business", params)
    assert f'data-testid="register-done-mst">{MST}<' in html(done)
    created = account(app, f"MST:{MST}")
    assert (created.account_type, created.org_mst, created.full_name) == ("business", MST,
                                                                          COMPANY)
    assert created.legal_representative == "Nguyễn Văn Đại Diện" and created.phone == CONTACT
    assert (created.ial, created.verified_by) == ("IAL3", "usb")
    assert created.birth_date == "" and created.password_hash == "!"
    assert [b.carrier for b in bindings(app, created.id)] == ["usb"]

    claims, info = tokens_of(client, resume(client, done)["code"], verifier)
    assert claims["acr"] == "LoA3" and claims["LoaiTaiKhoan"] == "2"
    assert claims["MaSoThue"] == MST and claims["TenDoanhNghiep"] == COMPANY
    assert info["LoaiTaiKhoan"] == "2" and info["MaSoThue"] == MST
    assert info["MaSoDoanhNghiep"] == MST and info["TenDoanhNghiep"] == COMPANY
    assert info["NguoiDaiDien"] == "Nguyễn Văn Đại Diện" and info["SoDienThoai"] == "0912000444"
    assert info["name"] == COMPANY
    for personal in ("SoDinhDanh", "SoCMND", "NgayThangNamSinh", "GioiTinh", "birthdate",
                     "gender", "HoVaTen"):
        assert personal not in info, personal


def test_a_business_signs_in_with_its_certificate(app, client, served):
    token = company(served)
    register(app, client, token, "business")
    fresh = app.test_client()
    claims, info = loa3_login(fresh, token)
    assert claims["LoaiTaiKhoan"] == "2" and claims["MaSoThue"] == MST
    assert info["sub"] == account(app, f"MST:{MST}").sub
    # Another certificate of the same company (a renewed token) signs in the same account.
    claims, _ = loa3_login(app.test_client(), company(served))
    assert claims["sub"] == info["sub"]


def test_an_agency_registers_and_signs_in(app, client, served):
    token = agency(served)
    done = register(app, client, token, "agency")
    assert f'data-testid="register-done-mns">{MNS}<' in html(done)
    created = account(app, f"MNS:{MNS}")
    assert (created.account_type, created.org_mns, created.org_mst) == ("agency", MNS,
                                                                        AGENCY_MST)
    claims, info = loa3_login(app.test_client(), token)
    assert claims["LoaiTaiKhoan"] == "3" and claims["MaDVQHNS"] == MNS
    assert info["LoaiTaiKhoan"] == "3" and info["MaSoThue"] == AGENCY_MST
    assert info["TenDoanhNghiep"] == AGENCY and "MaSoDoanhNghiep" not in info


def test_an_invalid_mst_check_digit_is_refused(app, client, served):
    r = sign(client, start(client, "business"), company(served, mst="0123456780"))
    assert (r.status_code, message_of(r)) == (400, "certificate.invalid_mst")
    assert account_count(app) == 2 and not bindings(app) and not sent(app)


def test_a_certificate_of_the_wrong_kind_is_refused(app, client, served):
    employee = token_for(served, (f"CCCD:{CITIZEN.id_number}", f"MST:{MST}-001"),
                         CITIZEN.full_name, org=COMPANY)
    r = sign(client, start(client, "business"), employee)
    assert (r.status_code, message_of(r)) == (400, "organisation.not_business_certificate")
    r = sign(client, r, company(served))
    assert r.status_code == 303  # the right certificate on the page's fresh challenge
    r = sign(client, start(client, "agency"), company(served))
    assert (r.status_code, message_of(r)) == (400, "organisation.not_agency_certificate")
    assert account_count(app) == 2


def test_a_person_certificate_with_an_mst_signs_in_the_person(app, client, served):
    employee = token_for(served, (f"CCCD:{CITIZEN.id_number}", f"MST:{MST}-001"),
                         CITIZEN.full_name, org=COMPANY)
    register(app, client, company(served), "business")
    claims, info = loa3_login(app.test_client(), employee)
    assert claims["LoaiTaiKhoan"] == "1" and "MaSoThue" not in claims
    assert info["sub"] == account(app, CITIZEN.id_number).sub
    assert info["SoDinhDanh"] == CITIZEN.id_number


def test_an_unregistered_organisation_cannot_sign_in(app, client, served):
    from tests.support.oidc import authorize
    r = authorize(client, auth_params(challenge=pkce_pair()[1], acr_values="LoA3"))
    r = sign(client, client.get(r.headers["Location"]), company(served))
    assert (r.status_code, message_of(r)) == (404, "organisation.no_account")


def test_an_existing_organisation_is_told_and_offered_the_sign_in(app, client, served):
    register(app, client, company(served), "business")
    other = app.test_client()
    page = follow(other, sign(other, start(other, "business"), company(served)))
    text = html(page)
    assert 'data-msg="organisation.account_exists"' in text
    assert 'value="login"' in text and 'value="forgot"' not in text
    assert account_count(app) == 3
    assert post(other, page, action="forgot").status_code == 303  # just "Đăng nhập"


def test_the_organisation_account_page(app, client, served):
    token = company(served)
    resume(client, register(app, client, token, "business"))
    page = client.get("/account/")
    text = html(page)
    assert 'data-testid="organisation"' in text and f'data-testid="account-mst">{MST}<' in text
    assert 'data-methods="certificate"' in text and 'data-ial="IAL3"' in text
    assert "account.password" not in text and 'data-methods="sms"' not in text
    assert "Đổi mật khẩu" not in text
    # No password, no second factor: those pages send it back to the account page.
    for path in ("/account/password", "/account/totp/new", "/account/phones/new"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["Location"] == "/account/", path
    # The binding is removed after a fresh sign-in with the organisation's certificate.
    [bound] = bindings(app, account(app, f"MST:{MST}").id)
    remove = f"/account/certificates/{bound.id}/remove"
    r = certificate_reauth(client, client.get(remove), token)
    assert r.headers["Location"] == remove
    confirm = client.get(remove)
    r = client.post(remove, data={"csrf_token": hidden(html(confirm), "csrf_token")})
    assert r.status_code == 303 and not bindings(app)
    # That certificate no longer signs in (cert_bindings.py); a renewed one does.
    other = app.test_client()
    verifier, challenge = pkce_pair()
    r = authorize(other, auth_params(challenge=challenge, acr_values="LoA3"))
    refused = sign(other, other.get(r.headers["Location"]), token)
    assert refused.status_code == 403 and 'data-msg="certificate.removed"' in html(refused)
    claims, _ = loa3_login(app.test_client(), company(served))
    assert claims["MaSoThue"] == MST


def test_the_national_portal_shows_the_organisation_view(tmp_path):
    from portals import quocgia
    portal = quocgia.create_app(issuer="http://127.0.0.1:9", base_url="http://127.0.0.1:5002",
                                client_secret="s" * 40, instance_dir=str(tmp_path),
                                secret_key="k" * 40)
    claims = {"sub": "s-1", "acr": "LoA3", "amr": ["hwk", "sc", "pin", "mfa"],
              "auth_time": 1700000000, "LoaiTaiKhoan": "2", "MaSoThue": MST,
              "TenDoanhNghiep": COMPANY}
    info = {"sub": "s-1", "LoaiTaiKhoan": "2", "MaSoThue": MST, "TenDoanhNghiep": COMPANY,
            "NguoiDaiDien": "Nguyễn Văn Đại Diện", "SoDienThoai": "0912000444"}
    with portal.app_context():
        from portals.state import portal as state
        record = state().store.create("http://127.0.0.1:9", claims, info, "id-token")
    web = portal.test_client()
    with web.session_transaction() as session:
        session["rec"] = record.id
    text = web.get("/thong-tin").get_data(as_text=True)
    assert 'data-testid="organisation"' in text and 'data-account-type="2"' in text
    assert f'data-testid="claim-mst">{MST}<' in text and COMPANY in text
    assert "Doanh nghiệp" in text and "Thông tin công dân" not in text
    # A citizen still gets the citizen view.
    with portal.app_context():
        citizen = state().store.create("http://127.0.0.1:9", dict(claims, LoaiTaiKhoan="1"),
                                       {"sub": "s-1", "LoaiTaiKhoan": "1",
                                        "HoVaTen": "Nguyễn Văn An"}, "id-token")
    with web.session_transaction() as session:
        session["rec"] = citizen.id
    text = web.get("/thong-tin").get_data(as_text=True)
    assert "Thông tin công dân" in text and 'data-testid="organisation"' not in text


def test_the_migration_keeps_citizens_and_its_downgrade_drops_organisations(tmp_path):
    """migrations/versions/3fb024350272: existing accounts become citizens' with their
    verification not recorded; a downgrade cannot keep an organisation or a binding."""
    import time

    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from idp import create_app
    from idp.platform.db import db
    from idp.platform.models import Citizen
    url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    migrated = create_app({"env": "test", "database_url": url, "secret_key": "m" * 40})
    with migrated.app_context():
        upgrade(revision="1be5b46556a4")
        t = time.time()
        db.session.execute(text(
            "INSERT INTO citizens (sub, id_number, full_name, birth_date, gender, phone, "
            "password_hash, status, otp_failures, otp_locked_until, sms_reset_pending, "
            "password_changed_at, created_at, updated_at) VALUES ('sub-1', '066200000001', "
            "'Nguyễn Văn A', '2000-01-02', 'male', '+84941234947', 'x', 'active', 0, 0, "
            "false, :t, :t, :t)"), {"t": t})
        db.session.commit()
        upgrade()
        kept = db.session.scalar(db.select(Citizen).where(Citizen.sub == "sub-1"))
        assert (kept.account_type, kept.ial, kept.verified_by) == ("citizen", None, None)
        db.session.add(Citizen(sub="sub-2", id_number=f"MST:{MST}-001", full_name=COMPANY,
                               birth_date="", gender="", phone=CONTACT, password_hash="!",
                               account_type="business", org_mst=f"{MST}-001"))
        db.session.commit()
        db.session.remove()
        downgrade(revision="1be5b46556a4")
        subs = [r[0] for r in db.session.execute(text("SELECT sub FROM citizens"))]
        assert subs == ["sub-1"]
        db.session.remove()
        db.engine.dispose()
