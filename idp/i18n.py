"""Translations. Messages are written in Vietnamese in the code and templates (the default
language); `translations/en` holds the English catalogue. The .po file is the source: the .mo
is compiled from it on start-up when missing or older, so no build step can be forgotten."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


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
