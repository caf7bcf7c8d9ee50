"""The password: the first factor of every login (RFC 8176 `pwd`, LoA1 on its own).

A thin wrapper: hashing, the constant-work dummy verify for unknown accounts and (issue 13)
the Argon2 parameter upgrade belong to the accounts layer; the throttle and the captcha
belong to the login flow, which sees the ID number before any account is known.
"""
from __future__ import annotations

from idp.accounts import passwords
from idp.methods.base import Factor, Method, Option
from idp.methods.refusal import Refusal
from idp.platform.messages import msg
from idp.platform.models import Citizen

MAX_LENGTH = 1024


class Password(Method, id="password", amr=("pwd",), factor=Factor.FIRST, level="LoA1"):

    def options(self, citizen: Citizen) -> list[Option]:
        return [Option(self.id, self.id, "")] if citizen.password_hash else []

    def verify(self, challenge_id: str, citizen: Citizen, response: str) -> None:
        if len(response) > MAX_LENGTH or not check(citizen, response):
            raise Refusal(msg("method.password_wrong"), 400, 0)


def check(citizen: Citizen | None, password: str) -> bool:
    """The password of `citizen` (None: an unknown ID number, same work, False); a hash made
    with older Argon2 parameters is upgraded on the way (accounts.passwords)."""
    return passwords.verify_and_upgrade(citizen, password)
