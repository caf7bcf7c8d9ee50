"""Cổng dịch vụ công tỉnh Đắk Lắk (provincial portal): port 5001, client dvc-daklak,
LoA2 for "Nộp hồ sơ". WSGI: `portals.daklak:app`."""
from __future__ import annotations

from portals._env import entry_points, load_site

# portals/sites/daklak.json: the demo client registration and the page texts.
DEFAULTS = load_site("daklak")
THEME = DEFAULTS["theme"]

create_app, __getattr__ = entry_points("DAKLAK", DEFAULTS)
