"""Registration's choice page, refused sends and success page over HTTP (issue 12 item 3,
flows/register.py): options that do not work are disabled, described and refused by the
server without a self-contradicting sentence; a refused send or a KYC mismatch does not cost
the solved captcha (within a bounded credit) and a corrected phone starts with no wait; the
password ends on "Đăng ký thành công", whose "Tiếp tục" resumes the authorization."""
from __future__ import annotations

import re

from idp.accounts import sms_budget
from idp.flows import register as reg
from idp.flows.register import ACCOUNT_TYPES, METHODS
from tests.support import PORTAL_CB, auth_params, pkce_pair, query, token_request
from tests.support.registration import (  # noqa: F401
    NGOC,
    PASSWORD,
    app,
    citizens,
    error_of,
    finish,
    html,
    post,
    registry,
    sent,
    start_create,
    submit_form,
    to_code,
    to_form,
    verify,
)

UNAVAILABLE = ("business", "agency", "bca", "usb_token", "sim_pki", "smartca")
# Available here besides the mobile subscription (issue 17): they start their own states.
ALSO_AVAILABLE = ("vssid", "vnpost")
OTHERS = {  # typed phone -> the carrier's subscriber (not Ngọc): a KYC mismatch
    "0867245190": "+84867245190", "0905613728": "+84905613728", "0912345678": "+84912345678"}


def radio(text: str, name: str, value: str) -> str:
    m = re.search(r'<input type="radio" name="%s" value="%s"[^>]*>' % (name, value), text)
    assert m, (name, value)
    return m.group(0)


def has_captcha(r) -> bool:
    return 'name="captcha_id"' in html(r)


def form_page(client, r):
    assert r.status_code == 303, html(r)[:800]
    return client.get(r.headers["Location"])


def mismatch_then_edit(app, client, page, phone):
    """Submit with someone else's phone, type its code back: the KYC mismatch page; then
    "Sửa thông tin đăng ký" back to the form."""
    r = submit_form(client, page, phone=phone)
    page = verify(app, client, form_page(client, r), OTHERS[phone])
    assert 'data-msg="register.kyc_mismatch"' in html(page)
    return form_page(client, post(client, page, action="edit"))


# --------------------------------------------------------------------------- the choice page

def test_unavailable_options_are_disabled_tagged_and_described(app, client):
    text = html(start_create(client))
    assert "Bộ phận Một cửa" in text and 'id="register-meanwhile"' in text
    for key in UNAVAILABLE:
        name = "account_type" if key in ACCOUNT_TYPES else "method"
        tag = radio(text, name, key)
        assert " disabled" in tag and " checked" not in tag and " required" not in tag, tag
        described = re.search(r'aria-describedby="([^"]+)"', tag).group(1).split()
        assert f"{name}-{key}-na" in described and "register-meanwhile" in described
        assert re.search(r'id="%s-%s-na"[^>]*>\(chưa hỗ trợ\)<' % (name, key), text), key
    for name, key in (("account_type", "citizen"), ("method", "mobile")):
        tag = radio(text, name, key)
        assert " disabled" not in tag and " checked" in tag and " required" in tag
    for key in ALSO_AVAILABLE:
        tag = radio(text, "method", key)
        assert " disabled" not in tag and " checked" not in tag, tag
    # The Vietnam Post note is described too, and sits in the option's text block.
    assert "vnpost-note" in radio(text, "method", "vnpost")
    assert text.count("(chưa hỗ trợ)") >= len(UNAVAILABLE)


def test_every_unsupported_combination_is_refused_without_contradiction(app, client):
    page = start_create(client)
    usable = [m.label for m in METHODS.values() if m.available]
    for account_type in [*ACCOUNT_TYPES, "nope", ""]:
        for method in [*METHODS, "nope", ""]:
            if account_type == "citizen" and method in ("mobile", *ALSO_AVAILABLE):
                continue
            r = post(client, page, account_type=account_type, method=method, action="choose")
            assert r.status_code == 400, (account_type, method)
            messages = [error_of(r, "account_type"), error_of(r, "method")]
            assert any(messages), (account_type, method)
            for message in filter(None, messages):
                labels = re.findall(r"“([^”]+)”", message)
                # A method said to be unsupported is never the one recommended.
                assert len(labels) == len(set(labels)), message
                if "chưa được hỗ trợ" in message and labels:
                    assert labels[0] not in usable, message
            atype = ACCOUNT_TYPES.get(account_type)
            if atype is not None and not atype.available:
                assert "Bộ phận Một cửa" in messages[0], messages
                # The method is judged only once the type works (or asked for if missing).
                assert not messages[1] or method not in METHODS, messages
            assert "Hiện chỉ đăng ký được bằng" not in html(r)
    r = post(client, page, account_type="business", method="mobile", action="choose")
    assert "Doanh nghiệp" in error_of(r, "account_type")
    assert "Thuê bao di động" not in error_of(r, "account_type") + error_of(r, "method")
    r = post(client, page, account_type="citizen", method="bca", action="choose")
    assert error_of(r, "method").startswith("Phương thức “Bộ Công An” chưa được hỗ trợ.")
    assert citizens(app) == 2


def test_a_method_for_another_account_type_says_so(app, client, monkeypatch):
    monkeypatch.setitem(METHODS, "vnpost", reg.VerificationMethod(
        "vnpost", "Bưu điện Việt Nam", "IAL2", True, "form", account_types=("business",)))
    with app.test_request_context():
        errors = reg.choice_errors(ACCOUNT_TYPES["citizen"], METHODS["vnpost"])
    assert "không dùng để đăng ký tài khoản Công dân" in errors["method"]


# --------------------------------------------------------------------------- refused sends

def test_a_field_error_or_a_refused_send_keeps_the_solved_captcha(app, client, monkeypatch):
    page = to_form(client)
    r = submit_form(client, page, phone="02623812345")  # a landline: refused, no SMS
    assert r.status_code == 400 and error_of(r, "phone") and not has_captcha(r)
    assert 'data-msg="captcha.credit"' in html(r)

    def refuse(purpose, phone, *a, **kw):
        if phone == "+84912000999":
            raise sms_budget.BudgetRefused("phone_unauthenticated", 600)
        return real(purpose, phone, *a, **kw)
    real = sms_budget.take
    monkeypatch.setattr(sms_budget, "take", refuse)
    r = submit_form(client, r, phone="0912000999")  # over its SMS budget: refused send
    assert r.status_code == 429 and 'data-msg="otp.budget"' in html(r) and not has_captcha(r)
    r = submit_form(client, r)  # the corrected phone: sent at once, no new captcha
    assert r.status_code == 303, html(r)[:600]
    assert [m["to"] for m in sent(app)] == ["+84352718406"]


def test_a_kyc_mismatch_keeps_the_captcha_and_the_corrected_phone_has_no_wait(app, client):
    page = mismatch_then_edit(app, client, to_form(client), "0867245190")
    assert not has_captcha(page) and 'value="0867245190"' in html(page)
    r = submit_form(client, page)  # Ngọc's own phone, seconds after the other one's code
    code_page = form_page(client, r)
    assert "0352718406" in html(code_page)
    wait = re.search(r'data-countdown="(\d+)"', html(code_page))
    assert wait and int(wait.group(1)) > app.config["IDP"]["resend_cooldown"] - 10  # its own
    assert [m["to"] for m in sent(app)] == ["+84867245190", "+84352718406"]
    # The cooldown still applies to the phone that did receive a code.
    r = post(client, code_page, action="resend")
    assert r.status_code == 429 and 'data-msg="otp.cooldown"' in html(r)
    page = verify(app, client, code_page)
    assert 'name="password_confirm"' in html(page)
    r = finish(client, page)
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and r.headers["Location"].startswith(PORTAL_CB)


def test_the_same_phone_again_waits_out_its_own_cooldown(app, client):
    page = to_form(client)
    r = submit_form(client, page)
    code_page = form_page(client, r)
    page = form_page(client, post(client, code_page, action="edit"))
    r = submit_form(client, page)
    assert r.status_code == 429 and 'data-msg="otp.cooldown"' in html(r)
    assert int(r.headers["Retry-After"]) > 0
    assert len(sent(app)) == 1


def test_the_captcha_credit_is_bounded(app, client):
    page = to_form(client)
    r = page
    for _ in range(reg.CAPTCHA_SUBMISSIONS):
        r = submit_form(client, r, phone="02623812345")
        assert r.status_code == 400 and error_of(r, "phone")
    assert has_captcha(r)  # spent: a new captcha
    r = post(client, r, action="register", **NGOC)  # without answering it
    assert r.status_code == 400 and error_of(r, "captcha")
    r = post(client, r, action="register", captcha_id="x" * 22, captcha="abcdef", **NGOC)
    assert r.status_code == 400 and error_of(r, "captcha") and not sent(app)
    r = submit_form(client, r)
    assert r.status_code == 303


def test_carrier_queries_and_phones_per_flow_are_capped(app, client):
    page = to_form(client)
    for phone in OTHERS:  # three mismatches: three carrier queries
        page = mismatch_then_edit(app, client, page, phone)
    before = len(sent(app))
    r = submit_form(client, page)
    assert r.status_code == 429 and 'data-msg="register.kyc_budget"' in html(r)
    assert len(sent(app)) == before and citizens(app) == 2


def test_a_flow_sends_to_a_bounded_number_of_phones(app, client):
    page = to_form(client)
    for phone in ("0912000201", "0912000202", "0912000203"):
        code_page = form_page(client, submit_form(client, page, phone=phone))
        page = form_page(client, post(client, code_page, action="edit"))
    r = submit_form(client, page, phone="0912000204")
    assert r.status_code == 429 and 'data-msg="register.too_many_phones"' in html(r)
    assert error_of(r, "phone")
    assert len(sent(app)) == 3
    # A number already used in this flow is still allowed (its own cooldown applies).
    r = submit_form(client, r, phone="0912000201")
    assert r.status_code in (303, 400, 429) and "register.too_many_phones" not in html(r)


# --------------------------------------------------------------------------- success page

def test_success_page_then_continue_resumes_the_authorization(app, client):
    verifier, challenge = pkce_pair()
    page = to_form(client, auth_params(challenge=challenge, prompt="create"))
    page = verify(app, client, form_page(client, submit_form(client, page)))
    r = post(client, page, password=PASSWORD, password_confirm=PASSWORD, action="save")
    assert r.status_code == 303 and "/flows/" in r.headers["Location"], html(r)[:500]
    done_url = r.headers["Location"]
    done = client.get(done_url)
    text = html(done)
    assert done.status_code == 200 and "Đăng ký thành công" in text
    assert "066xxxxxx305" in text and "0352xxx406" in text
    assert NGOC["id_number"] not in text and "0352718406" not in text
    assert 'value="continue"' in text and "Tiếp tục" in text
    assert citizens(app) == 3
    # Reloading the page shows it again; nothing else is possible from it.
    assert "Đăng ký thành công" in html(client.get(done_url))
    r = post(client, done, action="continue")
    assert r.status_code == 303 and "/authorize/resume/" in r.headers["Location"]
    r = client.get(r.headers["Location"])
    assert r.status_code == 302 and r.headers["Location"].startswith(PORTAL_CB)
    tokens = token_request(client, query(r.headers["Location"])["code"], verifier).get_json()
    assert "id_token" in tokens, tokens
    assert client.get(done_url).status_code == 410  # finished


def test_success_page_is_bound_to_the_browser(app, client):
    page = verify(app, client, to_code(client))
    r = post(client, page, password=PASSWORD, password_confirm=PASSWORD, action="save")
    done_url = r.headers["Location"]
    assert "Đăng ký thành công" in html(client.get(done_url))
    assert app.test_client().get(done_url).status_code == 410


def test_after_a_refused_choice_the_usable_options_are_checked_again(app, client):
    page = start_create(client)
    r = post(client, page, account_type="agency", method="smartca", action="choose")
    assert r.status_code == 400 and error_of(r, "account_type")
    assert " checked" in radio(html(r), "account_type", "citizen")
    assert " checked" in radio(html(r), "method", "mobile")
    r = post(client, r, account_type="citizen", method="mobile", action="choose")
    assert 'name="full_name"' in html(form_page(client, r))


def test_a_late_duplicate_of_the_password_form_does_not_skip_the_success_page(app, client):
    page = verify(app, client, to_code(client))
    r = post(client, page, password=PASSWORD, password_confirm=PASSWORD, action="save")
    done = client.get(r.headers["Location"])
    r = post(client, done, password=PASSWORD, password_confirm=PASSWORD, action="save")
    assert r.status_code == 200 and "Đăng ký thành công" in html(r) and citizens(app) == 3
    r = post(client, r, action="continue")
    assert r.status_code == 303 and "/authorize/resume/" in r.headers["Location"]
