"""Test data: the issuer, the registered portals (clients) and the two citizens every app-level
test starts with, and `seed`, which puts them in a fresh database."""
from __future__ import annotations

from dataclasses import dataclass

from idp.platform import keys
from idp.platform.crypto import hash_password, hash_secret
from idp.platform.db import db
from idp.platform.models import Citizen, Client, SigningKey

ISSUER = "http://127.0.0.1:5000"
PORTAL_CB = "http://127.0.0.1:5001/auth/callback"
NATIONAL_CB = "http://127.0.0.1:5002/auth/callback"
SPA_CB = "http://127.0.0.1:5003/callback"
SECRET = "portal-secret-0123456789-abcdefghijklmnop"
ALL_SCOPES = "openid profile phone email offline_access dvcqg"


@dataclass(frozen=True)
class Person:
    id_number: str
    password: str
    full_name: str
    birth_date: str
    gender: str
    phone: str


CITIZEN = Person("066089001234", "cay-ca-phe-buon-ma-thuot-2024", "Nguyễn Văn An", "1989-03-15",
                 "male", "+84941234947")
CITIZEN2 = Person("001195004321", "hoa-sen-ho-tay-mua-thu", "Trần Thị Bình", "1995-11-02",
                  "female", "+84912345678")

_key_rows: list[dict] = []
_password_hashes: dict[str, str] = {}


def _clients() -> list[tuple[str, str | None, dict]]:
    return [
        ("portal", SECRET, {"client_name": "Cổng dịch vụ công tỉnh Đắk Lắk",
                            "redirect_uris": [PORTAL_CB], "scope": ALL_SCOPES,
                            "token_endpoint_auth_method": "client_secret_basic"}),
        ("portal-post", SECRET, {"client_name": "Cổng thử nghiệm (post)",
                                 "redirect_uris": [PORTAL_CB], "scope": ALL_SCOPES,
                                 "token_endpoint_auth_method": "client_secret_post"}),
        ("national", SECRET, {"client_name": "Cổng Dịch vụ công Quốc gia",
                              "redirect_uris": [NATIONAL_CB], "scope": ALL_SCOPES,
                              "id_token_signed_response_alg": "RS256"}),
        ("spa", None, {"client_name": "Ứng dụng bên thứ ba", "redirect_uris": [SPA_CB],
                       "scope": ALL_SCOPES, "token_endpoint_auth_method": "none",
                       "first_party": False}),
        ("stepup", SECRET, {"client_name": "Cổng cần LoA2", "redirect_uris": [PORTAL_CB],
                            "scope": ALL_SCOPES, "default_acr_values": ["LoA2"]}),
    ]


def seed(app) -> None:
    """Keys (generated once per test process, copied afterwards), clients, citizens."""
    if not _key_rows:
        keys.ensure_keys(app.extensions["idp.keyring"]._kek)
        _key_rows.extend({c.name: getattr(k, c.name) for c in SigningKey.__table__.columns}
                         for k in db.session.query(SigningKey).all())
    else:
        for row in _key_rows:
            db.session.add(SigningKey(**row))
    for client_id, secret, meta in _clients():
        c = Client(client_id=client_id, client_secret_hash=hash_secret(secret) if secret else None)
        c.set_metadata(meta)
        db.session.add(c)
    for i, p in enumerate((CITIZEN, CITIZEN2)):
        if p.password not in _password_hashes:
            _password_hashes[p.password] = hash_password(p.password)
        db.session.add(Citizen(sub=f"sub-{i}-{p.id_number[-4:]}", id_number=p.id_number,
                               full_name=p.full_name, birth_date=p.birth_date,
                               gender=p.gender, phone=p.phone,
                               password_hash=_password_hashes[p.password]))
    db.session.commit()
    app.extensions["idp.keyring"].invalidate()
