"""A stand-in for VNeID login (reference vneid.md §9): one relying-party client, in one of two
modes, chosen at start and changeable through /_control/settings:

- "vneid-encrypted" (Shape A, VNeID's partner API): /authorize and a page of seeded citizens,
  an encrypted code (`code` + `encrypt_key`, a literal `+` kept in the Location), POST /token
  (form only; the decrypted or the raw code as `token_code` says), GET /userinfo, both
  answering `{data, key}` envelopes; no ID token; /api/idp/third-party/view-info and
  /api/idp/third-party/logout taking `token_id`;
- "oidc" (Shape B–like): discovery, /jwks, RS256 ID tokens (nonce, PKCE S256, `iss` on the
  redirect), plain /userinfo, /logout (end session) and back-channel logout tokens.

Modules: vneid_auth (login), vneid_api (token, userinfo, Shape-A profile/logout), vneid_oidc,
vneid_control (recording, faults, /_control/), vneid_state, vneid_crypto, vneid_citizens,
vneid_pages. Test-only: its signing keys are made at start; it logs method, path and status,
nothing personal.

Run: `python -m standins.vneid --port 5013 --mode vneid-encrypted --client-id idp-test
--client-secret S --redirect-uri URL --rp-public-key rp.pem`.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from flask import Flask

from standins.vneid_api import install_api
from standins.vneid_auth import install_auth
from standins.vneid_citizens import load_citizens
from standins.vneid_control import install_control
from standins.vneid_oidc import install_oidc
from standins.vneid_state import MODES, VneidStand


def create_app(settings: dict[str, Any]) -> Flask:
    """The stand-in for `settings` (keys of standins.vneid_state.SETTINGS: mode, client_id,
    client_secret, redirect_uri, post_logout_redirect_uri, backchannel_logout_uri,
    rp_public_key_pem, issuer (empty: the request's host URL), citizens (a list of dicts),
    and any start value of a /_control/settings setting)."""
    app = Flask("standins.vneid")
    stand = VneidStand(settings)
    app.extensions["vneid"] = stand
    install_control(app, stand)
    install_auth(app, stand)
    install_api(app, stand)
    install_oidc(app, stand)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A VNeID login stand-in (test only).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5013)
    parser.add_argument("--mode", choices=MODES, default="vneid-encrypted")
    parser.add_argument("--client-id", default="idp-test")
    parser.add_argument("--client-secret", default="vneid-secret")
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--post-logout-redirect-uri", default="")
    parser.add_argument("--backchannel-logout-uri", default="")
    parser.add_argument("--rp-public-key", default="",
                        help="PEM file, the RP's RSA public key (required in vneid-encrypted)")
    parser.add_argument("--issuer", default="")
    parser.add_argument("--citizens", default="", help="a JSON list of citizens")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    pem = Path(args.rp_public_key).read_text(encoding="ascii") if args.rp_public_key else ""
    return {"mode": args.mode, "client_id": args.client_id,
            "client_secret": args.client_secret, "redirect_uri": args.redirect_uri,
            "post_logout_redirect_uri": args.post_logout_redirect_uri,
            "backchannel_logout_uri": args.backchannel_logout_uri, "rp_public_key_pem": pem,
            "issuer": args.issuer.rstrip("/"), "citizens": load_citizens(args.citizens)}


def main(argv: list[str] | None = None) -> None:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        """Method, path and status only: queries carry codes, tokens and ID numbers."""

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            path = self.path.split("?", 1)[0]
            sys.stderr.write(f"{self.command} {path} {code}\n")

    args = parse_args(argv)
    try:
        app = create_app(settings_from(args))
    except ValueError as exc:
        raise SystemExit(f"standins.vneid: {exc}") from exc
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Quiet)
    print(f"standins.vneid ({args.mode}): http://{args.host}:{server.server_port}/ "
          "(control: /_control/)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
