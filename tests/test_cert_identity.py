"""Who a certificate names (idp/accounts/cert_identity.py, reference/pki.md §6–§7): read from
the subject's DER attributes in any order, classified citizen / business / agency, refused
when it names no one or names two."""
from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from idp.accounts.cert_identity import (
    CertIdentity,
    CertIdentityRefused,
    identity_of,
    identity_of_name,
)
from idp.platform.messages import CATALOGUE
from idp.platform.pki import testca

CCCD = "001200000001"      # Hà Nội, male, 2000 (invented)
CCCD_2 = "079085000123"    # Hồ Chí Minh, male, 1985 (invented)
CMND = "012345678"
MST = "0123456787"         # pki.md §7 worked example: check digit 7
PHONE = ObjectIdentifier("2.5.4.20")


def name(*pairs: tuple[str, str]) -> x509.Name:
    """A subject from (attribute, value) pairs in the given order; "UID" is the UID OID."""
    oids = {"UID": NameOID.USER_ID, "CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME,
            "ST": NameOID.STATE_OR_PROVINCE_NAME, "C": NameOID.COUNTRY_NAME, "TEL": PHONE}
    return x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(oids[k], v)])
                      for k, v in pairs])


def refused(subject: x509.Name) -> str:
    with pytest.raises(CertIdentityRefused) as info:
        identity_of_name(subject)
    assert info.value.message_id in CATALOGUE
    return info.value.reason


# --- citizens ---------------------------------------------------------------------------------

def test_citizen_with_cccd_name_and_phone():
    identity = identity_of_name(name(("CN", "Nguyễn Văn A"), ("UID", f"CCCD:{CCCD}"),
                                     ("TEL", "84912345678"), ("ST", "Đắk Lắk"), ("C", "VN")))
    assert identity == CertIdentity(kind="citizen", id_number=CCCD, mst=None, mns=None,
                                    name="Nguyễn Văn A", organisation=None,
                                    phone="+84912345678", uids=(("CCCD", CCCD),))


def test_both_printed_orders_read_the_same():
    forward = (("C", "VN"), ("ST", "Hà Nội"), ("UID", f"CCCD:{CCCD}"), ("CN", "Trần Thị B"))
    assert identity_of_name(name(*forward)) == identity_of_name(name(*reversed(forward)))


def test_a_comma_in_the_cn_is_part_of_the_name():
    identity = identity_of_name(name(("CN", "Lê Văn C, Phòng Một cửa"),
                                     ("UID", f"CCCD:{CCCD}")))
    assert identity.name == "Lê Văn C, Phòng Một cửa" and identity.id_number == CCCD


def test_a_uid_inside_the_cn_identifies_no_one():
    assert refused(name(("CN", f"A, UID=CCCD:{CCCD}"), ("C", "VN"))) == "no_identifier"


@pytest.mark.parametrize("uids, expected", [
    ((f"CMND:{CMND}",), CMND),                          # old 9-digit card
    ((f"CMND:{CCCD}",), CCCD),                          # 12-digit CMND = the personal ID
    ((f"CCCD:{CCCD}", f"CMND:{CMND}"), CCCD),           # old card next to the new: the CCCD
    ((f"CCCD:{CCCD}", f"CMND:{CCCD}"), CCCD),           # the same number twice
    ((f"CCCD:{CCCD}", f"CCCD:{CCCD}"), CCCD),
    ((f"cccd: {CCCD} ",), CCCD),                        # case and spaces around the number
    ((f"CZN:{CCCD}",), CCCD),                           # aliases (MID vocabulary)
    ((f"PID:{CMND}",), CMND),
    (("HC:X00000001", f"CCCD:{CCCD}"), CCCD),          # passport beside the ID number
    (("BHXH:0000000001", f"CCCD:{CCCD}"), CCCD),
])
def test_personal_id_numbers(uids, expected):
    identity = identity_of_name(name(("CN", "Phạm D"), *(("UID", u) for u in uids)))
    assert identity.kind == "citizen" and identity.id_number == expected


def test_aliases_are_recorded_under_their_canonical_prefix():
    identity = identity_of_name(name(("UID", f"CZN:{CCCD}"), ("UID", f"TIN:{MST}"),
                                     ("UID", "PPT:X00000001"), ("UID", "QĐ:123/QĐ-UBND")))
    assert identity.uids == (("CCCD", CCCD), ("MST", MST), ("HC", "X00000001"),
                             ("QĐ", "123/QĐ-UBND"))


def test_person_acting_for_a_business_is_a_citizen_with_the_mst():
    identity = identity_of_name(name(("O", "Công ty TNHH Ví Dụ"), ("UID", f"MST:{MST}-001"),
                                     ("UID", f"CCCD:{CCCD}"), ("CN", "Võ Thị E")))
    assert (identity.kind, identity.id_number, identity.mst, identity.organisation) == (
        "citizen", CCCD, f"{MST}-001", "Công ty TNHH Ví Dụ")


# --- businesses and agencies ------------------------------------------------------------------

@pytest.mark.parametrize("uid, mst", [
    (f"MST:{MST}", MST),
    (f"MST:{MST}-001", f"{MST}-001"),   # a branch (13 digits)
    (f"MST:{MST}001", f"{MST}-001"),    # the branch written without its dash
    (f"TIN:{MST}", MST),
])
def test_business(uid, mst):
    identity = identity_of_name(name(("CN", "Công ty Cổ phần Ví Dụ"), ("UID", uid),
                                     ("ST", "Hà Nội"), ("C", "VN")))
    assert (identity.kind, identity.mst, identity.id_number) == ("business", mst, None)
    assert identity.name == "Công ty Cổ phần Ví Dụ"


@pytest.mark.parametrize("uids", [
    (f"MST:{MST}", "MNS:1000000"),
    ("BDG:1000000",),
])
def test_agency(uids):
    identity = identity_of_name(name(*(("UID", u) for u in uids), ("CN", "Sở Tư pháp"),
                                     ("O", "Ủy ban nhân dân tỉnh Đắk Lắk")))
    assert (identity.kind, identity.mns, identity.organisation) == (
        "agency", "1000000", "Ủy ban nhân dân tỉnh Đắk Lắk")


# --- refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("subject, reason", [
    (name(("CN", "Nguyễn Văn A"), ("C", "VN")), "no_identifier"),
    (name(("UID", "BHXH:0000000001")), "no_identifier"),
    (name(("UID", "XYZ:123456")), "no_identifier"),
    (name(("UID", CCCD)), "no_identifier"),                        # no prefix at all
    (name(("UID", "HC:X00000001")), "no_identifier"),              # passport only
    (name(("UID", "HC:X00000001"), ("UID", f"MST:{MST}")), "no_identifier"),
    (name(("UID", "MST:0123456780")), "invalid_mst"),              # wrong check digit
    (name(("UID", "MST:0123456787-000")), "invalid_mst"),          # branch 000
    (name(("UID", "MST:019876543")), "invalid_mst"),               # 9 digits
    (name(("UID", f"CCCD:{CCCD}"), ("UID", "MST:0123456780")), "invalid_mst"),
    (name(("UID", "CCCD:003085004217")), "invalid_id_number"),     # province 003 unassigned
    (name(("UID", f"CCCD:{CMND}")), "invalid_id_number"),          # a CCCD has 12 digits
    (name(("UID", f"CCCD:{CCCD}"), ("UID", f"CCCD:{CCCD_2}")), "conflicting_identifiers"),
    (name(("UID", f"CCCD:{CCCD}"), ("UID", f"CMND:{CCCD_2}")), "conflicting_identifiers"),
    (name(("UID", f"MST:{MST}"), ("UID", "MST:6600000027")), "conflicting_identifiers"),
])
def test_refusals(subject, reason):
    assert refused(subject) == reason


# --- from a certificate -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki():
    return testca.TestPki.create(base_url="http://127.0.0.1:1")


def test_identity_of_a_test_ca_leaf(pki):
    leaf = pki.issue(uids=(f"CCCD:{CCCD}",), cn="Nguyễn Văn A", ca="vnpt", key="ec",
                     phone="0912345678")
    identity = identity_of(leaf.cert)
    assert (identity.kind, identity.id_number, identity.name, identity.phone) == (
        "citizen", CCCD, "Nguyễn Văn A", "+84912345678")


def test_identity_of_a_business_leaf(pki):
    leaf = pki.issue(uids=(f"MST:{MST}",), cn="Công ty Ví Dụ", ca="vnpt", key="ec",
                     org="Công ty Ví Dụ")
    identity = identity_of(leaf.cert)
    assert (identity.kind, identity.mst, identity.organisation) == (
        "business", MST, "Công ty Ví Dụ")
