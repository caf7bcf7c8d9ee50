"""Sign in through an upstream identity provider: "Đăng nhập bằng VNeID" (issue 16; RFC 8176
`fed`). Not a challenge and response at this IdP: the browser goes to the upstream and comes
back (flows/federated/upstream_step.py), and the account is found by accounts/federation.py.
This method is what the rest of the IdP sees of it: whether it is available here (an upstream
provider is configured), the `amr` it puts in a login, the level it can reach (LoA2 at VNeID
level 2: federation.LEVEL_ACR), and the linked identities the account page lists and
removes."""
from __future__ import annotations

from idp.accounts import federation
from idp.methods.base import Enrolment, Factor, Method, Option
from idp.methods.refusal import Refusal
from idp.platform import upstream
from idp.platform.masking import mask_id_number
from idp.platform.messages import msg
from idp.platform.models import Citizen


class Federated(Method, id="federated", amr=("fed",), factor=Factor.FIRST, level="LoA2"):

    def available(self) -> bool:
        return bool(upstream.providers())

    def options(self, citizen: Citizen) -> list[Option]:
        return []  # started from the login page's button, never offered as a second factor

    def verify(self, challenge_id: str, citizen: Citizen, response: str) -> None:
        raise Refusal(msg("upstream.not_configured"))  # the upstream proves it, not a form

    def enrolments(self, citizen: Citizen) -> list[Enrolment]:
        return [Enrolment(self.id, row.id, label_of(row.provider, row.pid),
                          created_at=row.created_at)
                for row in federation.identities(citizen)]

    def remove(self, citizen: Citizen, enrolment_id: int) -> bool:
        return federation.unlink(citizen, enrolment_id) is not None


def label_of(provider: str, pid: str) -> str:
    """"VNeID — số định danh 0660****4217": the provider's label (its own name while it is
    configured) and the masked number it asserted."""
    found = upstream.provider(provider)
    name = found.label if found is not None else provider
    return str(msg("federation.linked_label", provider=name, pid=mask_id_number(pid)))
