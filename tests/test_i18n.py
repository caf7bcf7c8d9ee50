"""The English catalogue is complete: every message the package marks for translation (Python
`_()`/`gettext`/`lazy_gettext`/`ngettext`, Jinja `_()`) has a non-fuzzy English translation
with the same placeholders. Extraction follows babel.cfg, the file pybabel uses."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "idp"
PO = PACKAGE / "translations" / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|\{(\w*)\}")


def extracted() -> dict:
    """msgid (str, or (singular, plural)) -> first place it is used."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            PACKAGE, method_map, options_map, keywords=KEYWORDS):
        if isinstance(message, (tuple, list)):
            message = tuple(m for m in message if m is not None)
            message = message[0] if len(message) == 1 else message
        if message:
            found.setdefault(message, f"idp/{filename}:{lineno}")
    return found


def catalogue():
    with open(PO, "rb") as fh:
        return read_po(fh, locale="en")


def placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


def test_extraction_sees_python_and_templates():
    places = " ".join(extracted().values())
    assert ".py:" in places and ".html:" in places


def test_every_message_has_an_english_translation():
    cat = catalogue()
    problems = []
    for msgid, place in extracted().items():
        entry = cat.get(msgid)
        strings = entry.string if entry else None
        if isinstance(strings, str):
            strings = (strings,)
        if not entry or not strings or not all(strings):
            problems.append(f"{place}: no English translation for {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"{place}: fuzzy translation for {msgid!r}")
    assert not problems, ("\n".join(problems) + "\nUpdate the catalogue as babel.cfg explains.")


def test_translations_keep_the_placeholders():
    problems = []
    for entry in catalogue():
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set().union(*(placeholders(i) for i in ids))
        for s in strings:
            if s and placeholders(s) != wanted:
                problems.append(f"{entry.id!r}: {sorted(placeholders(s))} != {sorted(wanted)}")
    assert not problems, "\n".join(problems)


def test_the_catalogue_compiles(tmp_path):
    with open(tmp_path / "messages.mo", "wb") as fh:
        write_mo(fh, catalogue())
    assert (tmp_path / "messages.mo").stat().st_size > 100
