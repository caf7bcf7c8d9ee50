"""idp.accounts.validation (ID numbers, phones, personal data) and idp.protocol.client_metadata."""
from __future__ import annotations

import datetime as dt

import pytest

from idp.accounts import validation as v
from idp.accounts.validation import ValidationError
from idp.protocol import client_metadata as cm


def code_of(fn, *args, **kwargs) -> str:
    with pytest.raises(ValidationError) as info:
        fn(*args, **kwargs)
    return info.value.code


# --- ID numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("066085004217", "066085004217"),       # Đắk Lắk, male 1985
    ("  054078102556\n", "054078102556"),   # Phú Yên; surrounding whitespace stripped
    ("001303044189", "001303044189"),       # Hà Nội, female 2003
    ("096199123456", "096199123456"),       # Cà Mau, the last code
    ("123456789", "123456789"),             # 9-digit CMND: shape only
])
def test_id_number_valid(text, expected):
    assert v.parse_id_number(text) == expected


@pytest.mark.parametrize("text, code", [
    ("003085004217", "id_number.province"),  # 003 is not assigned
    ("005085004217", "id_number.province"),
    ("000085004217", "id_number.province"),
    ("097085004217", "id_number.province"),  # after 096 nothing is assigned
    ("066485004217", "id_number.century"),   # 4 = born in the 2100s
    ("066299004217", "id_number.century"),   # 2099 is in the future
    ("06608500421", "id_number.length"),     # 11 digits
    ("0660850042170", "id_number.length"),   # 13 digits
    ("12345678", "id_number.length"),
    ("0660 85004217", "id_number.digits"),   # inner space
    ("066-085-004217", "id_number.digits"),
    ("066085004２17", "id_number.digits"),   # fullwidth digit
    ("٠٦٦٠٨٥٠٠٤٢١٧", "id_number.digits"),    # Arabic-Indic digits
    ("06608500421a", "id_number.digits"),
    ("", "id_number.required"),
    ("   ", "id_number.required"),
    (66085004217, "id_number.type"),
    (None, "id_number.type"),
])
def test_id_number_invalid(text, code):
    assert code_of(v.parse_id_number, text) == code


def test_id_number_error_names_the_field_in_vietnamese():
    with pytest.raises(ValidationError) as info:
        v.parse_id_number("003085004217")
    assert info.value.field == "id_number"
    assert info.value.message == "Mã tỉnh 003 trong số định danh không tồn tại."


def test_all_63_province_codes_loaded():
    assert len(v.PROVINCES) == 63
    assert v.PROVINCES["066"] == "Đắk Lắk"
    assert v.PROVINCES["024"] == "Bắc Giang"  # not 023 (a known misprint)
    assert "003" not in v.PROVINCES


@pytest.mark.parametrize("number, facts", [
    ("066085004217", ("066", "male", 1985)),
    ("066192018305", ("066", "female", 1992)),
    ("079201230671", ("079", "male", 2001)),
    ("001303044189", ("001", "female", 2003)),
    ("048000000001", ("048", "male", 1900)),
])
def test_cccd_facts(number, facts):
    assert v.cccd_facts(number) == facts


@pytest.mark.parametrize("number, birth, gender, code", [
    ("066085004217", "1985-03-14", "female", "id_number.gender"),
    ("066085004217", "1986-03-14", "male", "id_number.birth_year"),
    ("066285004217", "1985-03-14", "male", "id_number.birth_year"),  # 2085 coded, born 1985
    ("066303044189", "1903-05-09", "female", "id_number.birth_year"),  # 2003 coded
])
def test_cccd_consistency_mismatch(number, birth, gender, code):
    assert code_of(v.check_cccd_consistency, number, dt.date.fromisoformat(birth), gender) == code


@pytest.mark.parametrize("number, birth, gender", [
    ("066085004217", "1985-03-14", "male"),
    ("001303044189", "2003-05-09", "female"),
    ("123456789", "1970-01-01", "female"),  # CMND encodes nothing
])
def test_cccd_consistency_ok(number, birth, gender):
    v.check_cccd_consistency(number, dt.date.fromisoformat(birth), gender)


# --- Phones -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("0941234947", "+84941234947"),       # VinaPhone
    ("0941 234 947", "+84941234947"),
    ("0941.234.947", "+84941234947"),
    ("+84941234947", "+84941234947"),
    ("+84 941 234 947", "+84941234947"),
    ("0084941234947", "+84941234947"),
    ("0352718406", "+84352718406"),       # Viettel 035
    ("0867245190", "+84867245190"),       # Viettel 086
    ("0905613728", "+84905613728"),       # MobiFone 090
    ("0583902114", "+84583902114"),       # Vietnamobile 058
    ("0521234567", "+84521234567"),       # Vietnamobile 052 (phonenumbers is too strict here)
    ("0551234567", "+84551234567"),       # Wintel 055
    ("0871234567", "+84871234567"),       # Itelecom 087
    ("0992123456", "+84992123456"),       # Gmobile 099
])
def test_phone_valid(text, expected):
    assert v.normalize_phone(text) == expected


@pytest.mark.parametrize("text, code", [
    ("02623812345", "phone.landline"),     # Đắk Lắk landline
    ("+842623812345", "phone.landline"),
    ("02438256789", "phone.landline"),     # Hà Nội landline
    ("+12025550123", "phone.foreign"),
    ("+8613812345678", "phone.foreign"),   # China mobile
    ("0301234567", "phone.prefix"),        # 030: accepted by phonenumbers, not allocated
    ("0311234567", "phone.prefix"),
    ("0511234567", "phone.prefix"),
    ("0951234567", "phone.prefix"),        # ex S-Fone
    ("01231234567", "phone.prefix"),       # pre-2018 11-digit form
    ("094123494", "phone.prefix"),         # too short
    ("09412349471", "phone.prefix"),       # too long
    ("０９４１２３４９４７", "phone.format"),   # fullwidth digits
    ("0941234947 ext 5", "phone.format"),
    ("tel:0941234947", "phone.format"),
    ("", "phone.required"),
    (941234947, "phone.type"),
])
def test_phone_invalid(text, code):
    assert code_of(v.normalize_phone, text) == code


def test_phone_prefix_list_is_configurable():
    assert v.normalize_phone("0941234947", prefixes=frozenset({"94"})) == "+84941234947"
    assert code_of(v.normalize_phone, "0352718406", prefixes=frozenset({"94"})) == "phone.prefix"


# --- Names, dates, gender, e-mail, password ---------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Nguyễn Văn An", "Nguyễn Văn An"),
    ("  Trần   Thị\tBích  Ngọc ", "Trần Thị Bích Ngọc"),
    ("Nguye\u0302\u0303n Thi\u0323 Hoa", "Nguyễn Thị Hoa"),  # decomposed -> NFC
    ("H'Linh Niê", "H'Linh Niê"),
    ("Y Sơn Êban", "Y Sơn Êban"),
    ("Lê-Phạm Đức", "Lê-Phạm Đức"),
    ("Đặng Thị Ưng", "Đặng Thị Ưng"),
    ("A", "A"),
])
def test_name_valid(text, expected):
    assert v.normalize_name(text) == expected


@pytest.mark.parametrize("text, code", [
    ("", "full_name.required"),
    ("   ", "full_name.required"),
    ("Nguyễn Văn 2", "full_name.chars"),
    ("Nguyễn <b>An</b>", "full_name.chars"),
    ("'Nguyễn", "full_name.chars"),
    ("Иван Петров", "full_name.chars"),       # not Latin script
    ("Nguyễn\u200bAn", "full_name.chars"),    # zero-width space
    ("a" * 201, "full_name.length"),
    (None, "full_name.type"),
])
def test_name_invalid(text, code):
    assert code_of(v.normalize_name, text) == code


def test_birth_date():
    assert v.parse_birth_date("1985-03-14") == dt.date(1985, 3, 14)
    assert v.parse_birth_date("2000-02-29") == dt.date(2000, 2, 29)
    assert v.parse_birth_date("1900-01-01") == dt.date(1900, 1, 1)
    today = dt.date(2025, 6, 1)
    assert v.parse_birth_date("2025-06-01", today=today) == today


@pytest.mark.parametrize("text, code", [
    ("1985-02-30", "birth_date.invalid"),
    ("2001-02-29", "birth_date.invalid"),
    ("1899-12-31", "birth_date.too_old"),
    ("2999-01-01", "birth_date.future"),
    ("03/14/1985", "birth_date.invalid"),  # month/day order: no 14th month
    ("1985-3-14", "birth_date.format"),
    ("１９８５-03-14", "birth_date.format"),
    ("", "birth_date.format"),
    (19850314, "birth_date.format"),
])
def test_birth_date_invalid(text, code):
    assert code_of(v.parse_birth_date, text) == code


def test_gender():
    assert v.parse_gender("male") == "male"
    assert v.parse_gender(" Female ") == "female"
    for bad in ("nam", "other", "", None, 1):
        assert code_of(v.parse_gender, bad) == "gender.invalid"


def test_email():
    assert v.normalize_email(None) is None
    assert v.normalize_email("  ") is None
    assert v.normalize_email("An.Nguyen@Example.VN") == "An.Nguyen@example.vn"
    for bad in ("an", "an@", "@example.vn", "an@example", "a b@example.vn", "an@@example.vn",
                "x" * 250 + "@a.vn", 5):
        with pytest.raises(ValidationError):
            v.normalize_email(bad)


def test_password_rules():
    assert v.check_password("voi-rung-mua-xuan-42") == "voi-rung-mua-xuan-42"
    assert code_of(v.check_password, "short") == "password.short"
    assert code_of(v.check_password, "x" * 129) == "password.long"
    assert code_of(v.check_password, "066085004217", ("066085004217",)) == "password.context"


def test_validate_citizen_normalises():
    record = v.validate_citizen({
        "id_number": "066085004217", "full_name": " Nguyễn  Văn An ", "birth_date": "1985-03-14",
        "gender": "male", "phone": "0941 234 947", "email": None,
        "password": "voi-rung-mua-xuan-42"})
    assert record == {"id_number": "066085004217", "full_name": "Nguyễn Văn An",
                      "birth_date": "1985-03-14", "gender": "male", "phone": "+84941234947",
                      "email": None, "password": "voi-rung-mua-xuan-42"}


# --- Client metadata --------------------------------------------------------------------------

def client(**changes) -> dict:
    data = {"client_id": "dvc-daklak", "client_name": "Cổng dịch vụ công tỉnh Đắk Lắk",
            "client_secret": "s" * 32, "redirect_uris": ["https://dichvucong.daklak.gov.vn/cb"]}
    data.update(changes)
    return {k: val for k, val in data.items() if val is not None}


def test_client_defaults_and_no_secret_in_metadata():
    meta = cm.validate_client_metadata(client())
    assert meta == {
        "client_id": "dvc-daklak", "client_name": "Cổng dịch vụ công tỉnh Đắk Lắk",
        "redirect_uris": ["https://dichvucong.daklak.gov.vn/cb"],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "scope": "openid profile phone email offline_access",
        "token_endpoint_auth_method": "client_secret_basic",
        "id_token_signed_response_alg": "ES256", "first_party": True}
    assert "client_secret" not in meta
    assert cm.client_secret_of(client()) == "s" * 32


@pytest.mark.parametrize("uri", [
    "https://dichvucong.daklak.gov.vn/auth/callback",
    "https://portal.example.vn:8443/cb?x=1",
    "http://127.0.0.1:5001/auth/callback",
    "http://localhost/cb",
    "http://[::1]:8080/cb",
])
def test_client_redirect_uri_valid(uri):
    assert cm.validate_client_metadata(client(redirect_uris=[uri]))["redirect_uris"] == [uri]


@pytest.mark.parametrize("uri", [
    "http://dichvucong.daklak.gov.vn/cb",   # http off loopback
    "http://127.0.0.2.nip.io/cb",
    "https://dichvucong.daklak.gov.vn/cb#frag",
    "https://*.daklak.gov.vn/cb",
    "https://dichvucong.daklak.gov.vn/*",
    "https://user:pw@dichvucong.daklak.gov.vn/cb",
    "/relative/cb",
    "com.example.app:/cb",
    "javascript:alert(1)",
    "https://dichvucong.daklak.gov.vn/c b",
    "https://dichvucong.daklak.gov.vn:99999/cb",
    "",
])
def test_client_redirect_uri_invalid(uri):
    with pytest.raises(ValidationError) as info:
        cm.validate_client_metadata(client(redirect_uris=[uri]))
    assert info.value.field == "redirect_uris"


@pytest.mark.parametrize("changes, field", [
    ({"client_id": ""}, "client_id"),
    ({"client_id": "a" * 101}, "client_id"),
    ({"client_id": "dvc daklak"}, "client_id"),
    ({"client_id": "dvc/daklak"}, "client_id"),
    ({"client_id": 5}, "client_id"),
    ({"client_name": ""}, "client_name"),
    ({"client_name": None}, "client_name"),
    ({"redirect_uris": []}, "redirect_uris"),
    ({"redirect_uris": "https://a.vn/cb"}, "redirect_uris"),
    ({"redirect_uris": None}, "redirect_uris"),
    ({"post_logout_redirect_uris": ["http://a.vn/"]}, "post_logout_redirect_uris"),
    ({"grant_types": ["implicit"]}, "grant_types"),
    ({"grant_types": ["password"]}, "grant_types"),
    ({"grant_types": ["refresh_token"]}, "grant_types"),
    ({"response_types": ["token"]}, "response_types"),
    ({"response_types": ["code", "id_token"]}, "response_types"),
    ({"scope": "profile email"}, "scope"),
    ({"scope": "openid admin"}, "scope"),
    ({"scope": ["openid"]}, "scope"),
    ({"grant_types": ["authorization_code"], "scope": "openid offline_access"}, "scope"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "token_endpoint_auth_method"),
    ({"client_secret": "short"}, "client_secret"),
    ({"client_secret": "s" * 31}, "client_secret"),
    ({"client_secret": "s" * 31 + " "}, "client_secret"),
    ({"client_secret": None}, "client_secret"),
    ({"token_endpoint_auth_method": "none"}, "client_secret"),  # secret forbidden
    ({"id_token_signed_response_alg": "HS256"}, "id_token_signed_response_alg"),
    ({"id_token_signed_response_alg": "none"}, "id_token_signed_response_alg"),
    ({"default_acr_values": ["LoA4"]}, "default_acr_values"),
    ({"backchannel_logout_uri": "http://rp.example.vn/bcl"}, "backchannel_logout_uri"),
    ({"backchannel_logout_session_required": "yes"}, "backchannel_logout_session_required"),
    ({"first_party": "false"}, "first_party"),
    ({"logo_uri": "https://a.vn/logo.png"}, "logo_uri"),  # unknown key
])
def test_client_invalid(changes, field):
    with pytest.raises(ValidationError) as info:
        cm.validate_client_metadata(client(**changes))
    assert info.value.field == field
    assert info.value.message  # a Vietnamese sentence for the operator


def test_client_public_and_third_party():
    meta = cm.validate_client_metadata(client(
        client_id="demo-spa", client_secret=None, token_endpoint_auth_method="none",
        first_party=False, grant_types=["authorization_code"],
        redirect_uris=["http://127.0.0.1:5003/callback", "http://127.0.0.1:5003/callback"],
        default_acr_values=["LoA2"], id_token_signed_response_alg="RS256"))
    assert meta["token_endpoint_auth_method"] == "none"
    assert meta["first_party"] is False
    assert meta["scope"] == "openid profile phone email"  # no offline_access without refresh
    assert meta["redirect_uris"] == ["http://127.0.0.1:5003/callback"]
    assert meta["default_acr_values"] == ["LoA2"]
    assert meta["id_token_signed_response_alg"] == "RS256"


def test_client_must_be_object():
    with pytest.raises(ValidationError):
        cm.validate_client_metadata(["client_id"])
