"""Scopes and the claims each one releases (CONTRACT.md §8, OIDC Core §5.4).

`dvcqg` is the national portal's claim profile (domain.md §7: the field names a Vietnamese RP
reads from the national portal's userinfo). Gender codes in `GioiTinh`: 1 = Nam (male),
2 = Nữ (female) — the portal's own coding is unverified (domain.md §7), so this is our
documented choice. `NgayThangNamSinh` is YYYYMMDD as one RP's comment shows.

Organisations (issue 15 item 5). `LoaiTaiKhoan` says whose account it is: "1" a citizen,
"2" a business, "3" an agency (the portal's 1 / 2 / 3, vneid.md §7); it is in the ID token
too (`id_token_claims`), so a portal tells a citizen from an organisation before userinfo.
An organisation's `dvcqg` claims are the portal's organisation fields: `MaSoThue` (the MST,
a branch's with "-NNN"), `MaSoDoanhNghiep` (a business: the same number, the enterprise code
has been the tax code since 2015), `TenDoanhNghiep` (its name, for an agency too: the
portal's only organisation-name field known), `NguoiDaiDien` (the legal representative), and
for an agency `MaDVQHNS`, its budget-relationship unit code — our own name: the portal's
is unknown. No personal fields (SoDinhDanh, NgayThangNamSinh, GioiTinh) for an organisation,
and `profile` releases only its name.

VNeID (issue 16 item 4). An account linked to VNeID says so in userinfo
(`TaiKhoanDuocXacThucVoiVNeID`: true; the field provincial systems record per dossier,
vneid.md §7), and a login through VNeID says so in the ID token: `amr` has `fed` (RFC 8176)
and, for the dvcqg scope, `loginIdp` is "BCA" as the national portal relays it. An account
made from VNeID has its name, 12-digit number and birth date from VNeID; it has no gender
(VNeID does not give one), so `GioiTinh` and `gender` are left out rather than guessed.
"""
from __future__ import annotations

from idp.accounts import organisations
from idp.platform.models import Citizen

SCOPES = ["openid", "profile", "phone", "email", "offline_access", "dvcqg"]
# The national portal's `loginIdp` for a login through VNeID (vneid.md §7: "BCA", Bộ Công An).
LOGIN_IDP_VNEID = "BCA"
ACR_VALUES = ["LoA1", "LoA2", "LoA3"]

CLAIMS_SUPPORTED = [
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
    "name", "family_name", "given_name", "middle_name", "gender", "birthdate", "locale",
    "updated_at", "phone_number", "phone_number_verified", "email", "email_verified",
    "SoDinhDanh", "SoCMND", "HoVaTen", "NgayThangNamSinh", "GioiTinh", "SoDienThoai",
    "ThuDienTu", "LoaiTaiKhoan", "TechID", "TrangThai", "MaSoThue", "MaSoDoanhNghiep",
    "TenDoanhNghiep", "NguoiDaiDien", "MaDVQHNS", "loginIdp", "TaiKhoanDuocXacThucVoiVNeID",
]


def _name_parts(full_name: str) -> dict:
    # Vietnamese order: family name first, given name last, middle names between.
    parts = full_name.split()
    out = {"family_name": parts[0], "given_name": parts[-1]} if parts else {}
    if len(parts) > 2:
        out["middle_name"] = " ".join(parts[1:-1])
    return out


def national_phone(e164: str) -> str:
    return "0" + e164[3:] if e164.startswith("+84") else e164


def _organisation(account) -> dict:
    """The dvcqg organisation claims (module docstring) of a business or an agency row."""
    found = {"MaSoThue": account.org_mst or "", "TenDoanhNghiep": account.full_name,
             "NguoiDaiDien": account.legal_representative or ""}
    if account.account_type == organisations.BUSINESS:
        found["MaSoDoanhNghiep"] = account.org_mst or ""
    if account.org_mns:
        found["MaDVQHNS"] = account.org_mns
    return found


def id_token_claims(account, scope: str, amr: list[str] | tuple[str, ...] = ()) -> dict:
    """What the ID token adds to its own claims for the `dvcqg` scope: the account type,
    `loginIdp` "BCA" for a login through VNeID (`amr` has `fed`) and, for an organisation,
    its codes and name. `account`: a row of oauth2.active_citizen."""
    if "dvcqg" not in set((scope or "").split()):
        return {}
    kind = account.account_type or organisations.CITIZEN
    found = {"LoaiTaiKhoan": organisations.loai_tai_khoan(kind)}
    if "fed" in amr:
        found["loginIdp"] = LOGIN_IDP_VNEID
    if kind in organisations.ORGANISATIONS:
        found.update(_organisation(account))
        found.pop("NguoiDaiDien")  # a person's name: userinfo only
    return found


def userinfo(citizen: Citizen, scope: str) -> dict:
    """`citizen`: the account, or a row with the same attribute names (endpoints._USERINFO)."""
    scopes = set((scope or "").split())
    info: dict = {"sub": citizen.sub}
    if (citizen.account_type or organisations.CITIZEN) in organisations.ORGANISATIONS:
        return _organisation_info(citizen, scopes, info)
    if "profile" in scopes:
        # An account made from VNeID has no gender (VNeID does not give it): left out.
        info.update(name=citizen.full_name, locale="vi-VN",
                    updated_at=int(citizen.updated_at), **_name_parts(citizen.full_name))
        info.update({k: v for k, v in (("gender", citizen.gender),
                                       ("birthdate", citizen.birth_date)) if v})
    if "phone" in scopes:
        info.update(phone_number=citizen.phone, phone_number_verified=True)
    if "email" in scopes and citizen.email:
        # We do not verify e-mail addresses (the phone is the verified contact).
        info.update(email=citizen.email, email_verified=False)
    if "dvcqg" in scopes:
        key = "SoDinhDanh" if len(citizen.id_number) == 12 else "SoCMND"
        info.update({
            key: citizen.id_number,
            "HoVaTen": citizen.full_name,
            "NgayThangNamSinh": citizen.birth_date.replace("-", ""),
            "SoDienThoai": national_phone(citizen.phone),
            "ThuDienTu": citizen.email or "",
            "LoaiTaiKhoan": "1",  # công dân
            "TechID": citizen.sub,
            "TrangThai": "1",
            "TaiKhoanDuocXacThucVoiVNeID": bool(getattr(citizen, "vneid_linked", False)),
        })
        if citizen.gender:
            info["GioiTinh"] = 1 if citizen.gender == "male" else 2
    return info


def _organisation_info(account, scopes: set[str], info: dict) -> dict:
    """An organisation's userinfo: its name, contact phone and e-mail, and the dvcqg
    organisation claims; nothing of a person's."""
    if "profile" in scopes:
        info.update(name=account.full_name, locale="vi-VN", updated_at=int(account.updated_at))
    if "phone" in scopes:
        info.update(phone_number=account.phone, phone_number_verified=True)
    if "email" in scopes and account.email:
        info.update(email=account.email, email_verified=False)
    if "dvcqg" in scopes:
        info.update(_organisation(account), **{
            "SoDienThoai": national_phone(account.phone),
            "ThuDienTu": account.email or "",
            "LoaiTaiKhoan": organisations.loai_tai_khoan(account.account_type),
            "TechID": account.sub,
            "TrangThai": "1",
        })
    return info
