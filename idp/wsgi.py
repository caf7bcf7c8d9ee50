"""WSGI entry point for production servers: `granian --interface wsgi idp.wsgi:app` or
`gunicorn idp.wsgi:app`."""
from idp import create_app

app = create_app(serving=True)  # without the migration tooling (idp init runs them)
