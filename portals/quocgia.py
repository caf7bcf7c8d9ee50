"""Cổng Dịch vụ công Quốc gia (national portal): port 5002, client dvc-quocgia (RS256 ID
tokens), scope incl. `dvcqg`, LoA2 for "Nộp hồ sơ". WSGI: `portals.quocgia:app`."""
from __future__ import annotations

from portals._env import entry_points, load_site

# portals/sites/quocgia.json: the demo client registration and the page texts.
DEFAULTS = load_site("quocgia")
THEME = DEFAULTS["theme"]

create_app, __getattr__ = entry_points("QUOCGIA", DEFAULTS)
