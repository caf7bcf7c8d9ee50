"""Scopes and the claims each one releases (CONTRACT.md §8, OIDC Core §5.4).

`dvcqg` is the national portal's claim profile (domain.md §7: the field names a Vietnamese RP
reads from the national portal's userinfo). Gender codes in `GioiTinh`: 1 = Nam (male),
2 = Nữ (female) — the portal's own coding is unverified (domain.md §7), so this is our
documented choice. `NgayThangNamSinh` is YYYYMMDD as one RP's comment shows.
"""
from __future__ import annotations

from idp.platform.models import Citizen

SCOPES = ["openid", "profile", "phone", "email", "offline_access", "dvcqg"]
ACR_VALUES = ["LoA1", "LoA2", "LoA3"]

CLAIMS_SUPPORTED = [
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
    "name", "family_name", "given_name", "middle_name", "gender", "birthdate", "locale",
    "updated_at", "phone_number", "phone_number_verified", "email", "email_verified",
    "SoDinhDanh", "SoCMND", "HoVaTen", "NgayThangNamSinh", "GioiTinh", "SoDienThoai",
    "ThuDienTu", "LoaiTaiKhoan", "TechID", "TrangThai",
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


def userinfo(citizen: Citizen, scope: str) -> dict:
    """`citizen`: the account, or a row with the same attribute names (endpoints._USERINFO)."""
    scopes = set((scope or "").split())
    info: dict = {"sub": citizen.sub}
    if "profile" in scopes:
        info.update(name=citizen.full_name, gender=citizen.gender,
                    birthdate=citizen.birth_date, locale="vi-VN",
                    updated_at=int(citizen.updated_at), **_name_parts(citizen.full_name))
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
            "GioiTinh": 1 if citizen.gender == "male" else 2,
            "SoDienThoai": national_phone(citizen.phone),
            "ThuDienTu": citizen.email or "",
            "LoaiTaiKhoan": "1",  # công dân
            "TechID": citizen.sub,
            "TrangThai": "1",
        })
    return info
