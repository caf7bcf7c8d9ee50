"""Platform: what every layer stands on and that knows nothing of citizens or OpenID Connect —
configuration, the database and its schema, the ephemeral store, keys and sealing, logs,
metrics, rate limits, deadlines, languages, the SMS gateway port, the outbox of durable jobs,
the captcha and the shared web plumbing (errors, headers, CSRF)."""
