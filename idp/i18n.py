"""Translations. Messages are written in Vietnamese in the code and templates (the default
language); `translations/en` holds the English catalogue. The .po file is the source: the .mo
is compiled from it on start-up when missing or older, so no build step can be forgotten."""
from __future__ import annotations

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
        tmp = mo.with_suffix(".mo.tmp")
        with open(tmp, "wb") as fh:
            write_mo(fh, catalog)
        tmp.replace(mo)
