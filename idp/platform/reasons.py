"""One shape for the refusals of the certificate sign-in layers (issue 15): the challenge, the
signature, the certificate's validation, whom it names and the remote signers each refuse
with a stable `reason` code (tests, audit and logs use it), an optional `detail` for the log
only (never shown: it can name a certificate or help an attacker), and the catalogue
message the citizen sees, `message_id` = "<area>.<reason>" unless a class fixes one."""
from __future__ import annotations

from typing import ClassVar


class ReasonedError(Exception):
    """Subclasses set `area` (the message id's area) and, to reject unknown codes at the
    raise site, `reasons`."""

    area: ClassVar[str] = ""
    reasons: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, reason: str, detail: str = ""):
        if self.reasons is not None and reason not in self.reasons:
            raise ValueError(f"{type(self).__name__}: unknown reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    @property
    def message_id(self) -> str:
        return f"{self.area}.{self.reason}"
