"""The one error of the upstream (VNeID) sign-in: a stable `reason` (tests, audit, logs), a
`detail` for the log only (never a token, a decrypted body, a PID or a name) and the catalogue
message `upstream.<reason>` (idp/platform/messages/upstream.py) the citizen sees."""
from __future__ import annotations

from idp.platform.reasons import ReasonedError

REASONS = ("denied", "upstream_error", "unreachable", "timeout", "bad_state", "wrong_issuer",
           "bad_envelope", "bad_response", "bad_grant", "bad_token", "bad_identity",
           "bad_logout_token", "not_configured")


class UpstreamError(ReasonedError):
    area = "upstream"
    reasons = REASONS
