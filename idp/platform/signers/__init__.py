"""Remote signers: the services that hold a citizen's signing key away from the browser and
ask the citizen to approve each signature on their phone (reference/pki.md §3, §4).

- `port`: the interface certificate sign-in talks to (`RemoteSigner`), its value types
  (`SignerCertificate`, `SignStatus`) and its one error (`SignerError`, with a reason code);
- `mobile_sim`: SIM ký số over the common NEAC / QĐ769 service-provider API;
- `smartca`: VNPT SmartCA, whose calls need the citizen's own OAuth token first.

The adapters only carry bytes: whether a returned certificate is trusted, and whether the
signature is good, is decided by idp.platform.pki. Their stand-ins for tests and the demo are
the separate `standins` package.

`init_app` builds the configured adapters once, at start-up (a carrier whose URL is empty is
off: its tab says so), so a missing service-provider credential stops the IdP before the
first citizen tries; `signer(name)` is how the sign-in methods reach one.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask

from idp.platform.extensions import installed

if TYPE_CHECKING:
    from idp.platform.signers.port import RemoteSigner

EXTENSION = "idp.signers"


def build(settings: dict[str, Any]) -> dict[str, RemoteSigner]:
    """The adapters the settings configure, by their `name` ("mobile_sim", "smartca")."""
    from idp.platform.signers.mobile_sim import MobileSimSigner
    from idp.platform.signers.smartca import SmartCaSigner
    found: dict[str, RemoteSigner] = {}
    if settings.get("mobile_sign_url"):
        found[MobileSimSigner.name] = MobileSimSigner.from_settings(settings)
    if settings.get("smartca_url"):
        found[SmartCaSigner.name] = SmartCaSigner.from_settings(settings)
    return found


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = build(app.config["IDP"])


def signer(name: str) -> RemoteSigner | None:
    """The configured adapter `name`, None when that carrier is off here (or outside an app)."""
    found: RemoteSigner | None = installed(EXTENSION).get(name)
    return found
