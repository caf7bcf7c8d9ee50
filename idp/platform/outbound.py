"""One JSON POST to an outside party (the SMS gateway, the carrier subscriber check): a
transport failure or a non-2xx answer becomes the caller's own error type, naming the party
and the HTTP status, never the request body (it holds personal data)."""
from __future__ import annotations

from typing import Any

import requests


def post_json(session: requests.Session, url: str, body: dict[str, Any], timeout: float,
              error: type[Exception], party: str) -> requests.Response:
    try:
        response = session.post(url, json=body, timeout=timeout)
    except requests.RequestException as exc:
        raise error(f"{party} unreachable: {exc.__class__.__name__}") from None
    if not 200 <= response.status_code < 300:
        raise error(f"{party} answered HTTP {response.status_code}")
    return response
