"""The sign-in methods layer (idp/methods, issue 13 item 4): the registry every page reads,
and the one mapping from a refused one-time code to a message, a status and a wait."""
from __future__ import annotations

import pytest

from idp.accounts.otp import OtpRefused
from idp.methods import registry
from idp.methods.base import Factor, Method
from idp.methods.refusal import Refusal, code_required, refused, wrong_code


def test_the_registry_lists_each_method_once_with_what_it_proves():
    ids = [m.id for m in registry.all_methods()]
    assert ids == ["password", "sms", "totp", "recovery", "usb", "sim", "smartca", "federated"]
    assert [m.id for m in registry.second_factors()] == ["sms", "totp", "recovery"]
    assert [m.id for m in registry.first_factors()] == ["password", "usb", "sim", "smartca",
                                                        "federated"]
    assert all(isinstance(m, Method) for m in registry.all_methods())
    assert registry.by_id("password").factor is Factor.FIRST
    with pytest.raises(KeyError):
        registry.by_id("pki")


def test_amr_of_a_login_is_rfc_8176_and_the_same_as_before_issue_13():
    assert registry.login_amr(None) == ["pwd"]
    assert registry.login_amr(registry.by_id("sms")) == ["pwd", "sms", "mfa"]
    assert registry.login_amr(registry.by_id("totp")) == ["pwd", "otp", "mfa"]
    assert registry.login_amr(registry.by_id("recovery")) == ["pwd", "otp", "mfa"]


def test_a_certificate_login_has_its_own_amr_without_the_password():
    usb = registry.by_id("usb")
    assert registry.login_amr(None, first=usb) == ["hwk", "sc", "pin", "mfa"]


def test_a_vneid_login_is_fed_and_its_second_factor_adds_to_it():
    fed = registry.by_id("federated")
    assert fed.amr == ("fed",) and fed.level == "LoA2"
    assert registry.login_amr(None, first=fed) == ["fed"]
    assert registry.login_amr(registry.by_id("sms"), first=fed) == ["fed", "sms", "mfa"]
    assert not fed.available()  # outside an app: no upstream provider


def test_loa3_is_reachable_only_where_trust_anchors_are_configured(app, tmp_path):
    assert registry.highest_level() == "LoA2"  # outside any app: no carrier is available
    with app.app_context():  # the test app configures no trust anchor
        assert registry.certificate_methods() == []
        assert registry.level_reachable("LoA2") and not registry.level_reachable("LoA3")
    assert registry.level_of("password") == "LoA1" and registry.level_of("sms") == "LoA2"
    assert registry.level_of("usb") == "LoA3"
    from idp.platform.pki import testca
    from tests.support.apps import make_app
    pki = testca.TestPki.create(base_url="http://127.0.0.1:1")
    paths = pki.write(tmp_path / "anchors")
    trusted = make_app(f"sqlite:///{tmp_path / 'idp.sqlite3'}",
                       pki_trust_anchors=[str(p) for p in paths])
    with trusted.app_context():
        assert [m.id for m in registry.certificate_methods()] == ["usb"]
        assert registry.highest_level() == "LoA3" and registry.level_reachable("LoA3")


@pytest.mark.parametrize("reason, retry_after, status, message_id", [
    ("cooldown", 30, 429, "otp.cooldown"),
    ("budget", 3600, 429, "otp.budget"),
    ("locked", 30, 429, "otp.locked_minutes"),
    ("locked", 24 * 3600, 429, "otp.locked_hours"),
    ("flow_budget", 0, 400, "otp.flow_budget"),
    ("not_mobile", 0, 400, "otp.not_mobile"),
    ("expired", 0, 400, "otp.expired"),
    ("burned", 0, 400, "otp.burned"),
    ("sms_failed", 0, 503, "otp.sms_failed"),
    ("something_new", 0, 400, "otp.sms_failed"),
])
def test_one_mapping_from_a_refused_code_to_status_wait_and_message(
        app, reason, retry_after, status, message_id):
    with app.test_request_context():
        r = refused(OtpRefused(reason, retry_after))
        assert (r.status, r.retry_after, r.message.id, r.field) == (
            status, retry_after, message_id, "form")
        assert r.errors() == {"form": r.message}


def test_the_wait_is_in_the_message(app):
    with app.test_request_context():
        assert "30" in refused(OtpRefused("cooldown", 30)).message
        assert "2 phút" in refused(OtpRefused("locked", 61)).message
        assert "24 giờ" in refused(OtpRefused("locked", 24 * 3600)).message


def test_a_flow_may_word_a_refusal_its_own_way_but_not_change_its_status(app):
    with app.test_request_context():
        r = refused(OtpRefused("cooldown", 30), overrides={"cooldown": "otp.budget"})
        assert (r.message.id, r.status, r.retry_after) == ("otp.budget", 429, 30)


def test_a_wrong_or_missing_code_belongs_to_the_code_field(app):
    with app.test_request_context():
        for r in (wrong_code(), code_required()):
            assert isinstance(r, Refusal) and r.field == "otp" and r.status == 400
        assert wrong_code().message.id == "otp.wrong"
        assert code_required().message.id == "otp.required"
