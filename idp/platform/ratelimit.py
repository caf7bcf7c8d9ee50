"""Request-rate limits per client address (Flask-Limiter), shared by every node through Redis.

These are the coarse outer wall: they stop floods of page requests and of captcha images (each
one is drawn on the CPU). The limits that protect accounts and the SMS budget are the exact
per-account / per-phone / per-flow counters in `otp.py` and the login throttle, kept in the
ephemeral store. Without Redis the limits live in the process (one node, development).

Per-address limits are generous on purpose: Vietnamese mobile carriers put many subscribers
behind one address (carrier-grade NAT). Storage errors are not swallowed, so a Redis outage
gives 503 (web.py), never an unlimited service.
"""
from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter

from idp.platform.web import client_ip

# Which blueprints each setting limits.
LIMITED = {
    "rate_limit_pages": ("authorize", "flows", "account", "logout", "recovery", "register",
                         "smartca_signin"),
    "rate_limit_captcha": ("captcha",),
    "rate_limit_api": ("endpoints",),
}
# Probes and metrics are never limited: a load balancer must always be able to ask.
EXEMPT_ENDPOINTS = ("endpoints.healthz", "endpoints.readyz", "metrics")


def _address() -> str:
    return client_ip() or "unknown"


def init_app(app: Flask) -> Limiter:
    settings = app.config["IDP"]
    client = app.extensions.get("idp.redis")
    if client is not None:
        uri, options = "redis://", {"connection_pool": client.connection_pool}
    else:
        uri, options = "memory://", {}
    limiter = Limiter(key_func=_address, app=app, storage_uri=uri, storage_options=options,
                      key_prefix=settings["redis_prefix"] + "rl", strategy="fixed-window",
                      swallow_errors=False, headers_enabled=True,
                      default_limits_exempt_when=_exempt)
    for key, blueprints in LIMITED.items():
        if settings[key]:
            for name in blueprints:
                if name in app.blueprints:
                    # One allowance per address for the whole group, not one per route.
                    limiter.shared_limit(settings[key], scope=key,
                                         exempt_when=_exempt)(app.blueprints[name])
    app.extensions["idp.limiter"] = limiter
    return limiter


def _exempt() -> bool:
    return request.endpoint in EXEMPT_ENDPOINTS
