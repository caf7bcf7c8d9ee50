"""One HTTP exchange with an upstream provider: no redirects followed, the body streamed and
capped at `max_response_bytes`, transport failures as UpstreamError reasons ("timeout",
"unreachable", "bad_response"). Never logs or returns a request body in an error."""
from __future__ import annotations

import json
from typing import Any

import requests
import urllib3.exceptions

from idp.platform.upstream.errors import UpstreamError


class Reply:
    def __init__(self, status: int, content_type: str, body: bytes):
        self.status, self.content_type, self.body = status, content_type, body

    def json(self, party: str) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise UpstreamError("bad_response", f"{party}: answer is not JSON") from None


def _is_timeout(exc: BaseException) -> bool:
    """requests' own timeouts, and a read timeout while streaming the body (which requests
    wraps in a ConnectionError). Not urllib3's NewConnectionError (a "refused" connection),
    although it subclasses ConnectTimeoutError."""
    if isinstance(exc, requests.Timeout):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, urllib3.exceptions.ReadTimeoutError)


def exchange(session: requests.Session, method: str, url: str, *, timeout: float, limit: int,
             party: str, **kwargs: Any) -> Reply:
    try:
        response = session.request(method, url, timeout=timeout, allow_redirects=False,
                                   stream=True, **kwargs)
    except requests.RequestException as exc:
        if _is_timeout(exc):
            raise UpstreamError("timeout", f"{party}: no answer within {timeout:g}s") from None
        raise UpstreamError("unreachable", f"{party}: {exc.__class__.__name__}") from None
    try:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise UpstreamError("bad_response", f"{party}: answer over {limit} bytes")
        body = bytearray()
        try:
            for chunk in response.iter_content(8192):
                body += chunk
                if len(body) > limit:
                    raise UpstreamError("bad_response", f"{party}: answer over {limit} bytes")
        except requests.RequestException as exc:
            if _is_timeout(exc):
                raise UpstreamError("timeout", f"{party}: answer too slow") from None
            raise UpstreamError("unreachable", f"{party}: {exc.__class__.__name__}") from None
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return Reply(response.status_code, content_type, bytes(body))
    finally:
        response.close()
