"""The "Đăng nhập bằng VNeID" buttons of a flow's page (issue 16 item 2): one per upstream
provider configured here (platform/upstream), each a form posting to the round trip of
flows/federated/upstream_step.py. The login page and registration's "Bộ Công An" step show
them; their kinds name the state they are shown in (`upstream_state`)."""
from __future__ import annotations

from flask import url_for

from idp.interaction.engine import Flow
from idp.platform import upstream


def buttons(flow: Flow) -> list[dict[str, str]]:
    return [{"name": p.name, "label": p.label,
             "action": url_for("upstream_signin.begin", name=p.name, flow_id=flow.id)}
            for p in upstream.providers()]
