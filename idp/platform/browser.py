"""The browser id: a random value in the Flask-signed session cookie that pending
authorizations, flows and captcha challenges are bound to, so that an id leaked in a URL is
useless in another browser.

It lives in the platform (not in idp.interaction.session, which renews it at login and logout)
because the captcha, a platform service, binds its challenges to it too.
"""
from __future__ import annotations

from flask import session

from idp.platform.crypto import random_token, sha256_hex


def browser_id() -> str:
    """This browser's id, created on first use."""
    bid = session.get("bid")
    if not bid:
        bid = random_token(18)
        session["bid"] = bid
    return str(bid)


def browser_binding() -> str:
    """The value stored next to what is bound to this browser (a hash: never the id itself)."""
    return sha256_hex("bid:" + browser_id())
