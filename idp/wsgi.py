"""WSGI entry point for production servers: `granian --interface wsgi idp.wsgi:app` or
`gunicorn idp.wsgi:app`. Each worker process imports it after the fork and before its
request threads start: the place to limit malloc's arenas (platform/malloc.py)."""
from idp import create_app
from idp.platform.malloc import limit_arenas

limit_arenas()
app = create_app(serving=True)  # without the migration tooling (idp init runs them)
