"""Translations. Messages are written in Vietnamese in the code and templates (the default
language); `translations/en` holds the English catalogue. The .po file is the source: the .mo
is compiled from it on start-up when missing or older, so no build step can be forgotten."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"


def ensure_compiled() -> None:
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with open(po, "rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        # Several workers may start at once: each writes its own temporary file, and the
        # atomic rename means readers only ever see a whole catalogue.
        fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as fh:
            write_mo(fh, catalog)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; any server user must read it
        os.replace(tmp, mo)


def _safe_local_path(path: str) -> bool:
    """A path the browser resolves on this host: one leading "/", no backslash (browsers read
    it as "/"), no control characters or spaces, nothing that makes it scheme-relative."""
    return (path.startswith("/") and not path.startswith("//") and "\\" not in path
            and not any(ord(ch) <= 0x20 or ord(ch) == 0x7f for ch in path))


def switch_url(code: str) -> str:
    """The language-switch link to the current page in `code` (template global `lang_url`).

    Never echoes the raw request path (issue 11 item 6: `/%5Cevil.com` was decoded to
    `/\\evil.com` and rendered `href="/\\evil.com?lang=en"`, which browsers resolve to another
    host): the decoded path is percent-encoded again (a backslash becomes %5C, a tab %09), and
    anything that still is not a safe local path (one leading "/") links to "/"."""
    from urllib.parse import quote, urlencode

    from flask import request
    path = quote(request.path, safe="/-._~!$&'()*+,;=:@")
    if not _safe_local_path(path):
        path = "/"
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return path + "?" + urlencode(query + [("lang", code)])
