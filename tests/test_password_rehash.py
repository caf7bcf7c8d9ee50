"""Issue 13 item 6: Argon2id hashes follow a parameter change on their owner's next login
(accounts.passwords.verify_and_upgrade), and today's parameters are at least OWASP's."""
from __future__ import annotations

from argon2 import PasswordHasher, Type, extract_parameters
from sqlalchemy import select

from idp.accounts import passwords
from idp.platform import crypto
from idp.platform.db import db
from idp.platform.models import Citizen
from tests.support import CITIZEN, auth_params, login_and_get_code, pkce_pair

STRONGER = PasswordHasher(time_cost=3, memory_cost=19 * 1024, parallelism=1, hash_len=32,
                          salt_len=16, type=Type.ID)


def _stored_hash(app) -> str:
    with app.app_context():
        return db.session.scalar(select(Citizen.password_hash)
                                 .where(Citizen.id_number == CITIZEN.id_number))


def test_todays_parameters_are_at_least_owasps():
    params = extract_parameters(crypto.hash_password("mot-cau-de-nho"))
    assert params.type is Type.ID
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2
    assert params.parallelism >= 1


def test_a_login_rehashes_a_password_stored_with_old_parameters(app, client, monkeypatch):
    before = _stored_hash(app)
    assert extract_parameters(before).time_cost == 2
    monkeypatch.setattr(crypto, "_hasher", STRONGER)
    _, challenge = pkce_pair()
    login_and_get_code(client, auth_params(challenge=challenge))
    after = _stored_hash(app)
    assert after != before and extract_parameters(after).time_cost == 3
    assert crypto.verify_password(after, CITIZEN.password)


def test_verify_and_upgrade_rehashes_only_after_a_right_password(app, monkeypatch):
    with app.app_context():
        citizen = db.session.scalar(select(Citizen).where(Citizen.id_number == CITIZEN.id_number))
        before = citizen.password_hash
        assert passwords.verify_and_upgrade(citizen, CITIZEN.password)
        assert citizen.password_hash == before  # today's parameters: nothing to do
        monkeypatch.setattr(crypto, "_hasher", STRONGER)
        assert not passwords.verify_and_upgrade(citizen, "sai-mat-khau-hoai-hoai")
        assert citizen.password_hash == before
        assert passwords.verify_and_upgrade(citizen, CITIZEN.password)
        db.session.expire_all()
        stored = db.session.get(Citizen, citizen.id).password_hash
        assert extract_parameters(stored).time_cost == 3


def test_an_unknown_account_does_the_same_work_and_is_refused(monkeypatch):
    calls = []
    real = crypto.verify_password
    monkeypatch.setattr(passwords, "verify_password",
                        lambda stored, pw: calls.append(stored) or real(stored, pw))
    assert passwords.verify_and_upgrade(None, CITIZEN.password) is False
    assert calls == [None]  # crypto verifies its dummy hash for None
