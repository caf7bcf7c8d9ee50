"""Reading the IdP's HTML and redirects without a browser: the value of a hidden field, the
POST form's action, the query of a redirect. No imports of the IdP: the system tests
(tests/system, the IdP in other processes) use these too."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit


def query(location: str) -> dict[str, str]:
    """The query of a URL (a redirect's Location) as a flat dict."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def hidden(html: str, name: str) -> str | None:
    """The value of the input `name` (a hidden field: csrf_token, captcha_id …), or None."""
    m = re.search(r'name="%s"[^>]*value="([^"]*)"' % re.escape(name), html) or \
        re.search(r'value="([^"]*)"[^>]*name="%s"' % re.escape(name), html)
    return m.group(1) if m else None


def form_action(html: str) -> str:
    """The action of the page's POST form (asserts there is one)."""
    m = re.search(r'<form[^>]*action="([^"]+)"[^>]*method="post"', html, re.I) or \
        re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"', html, re.I)
    assert m, "no POST form on the page"
    return m.group(1).replace("&amp;", "&")
