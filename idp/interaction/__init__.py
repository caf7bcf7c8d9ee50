"""The interaction core: the pending authorization a browser is working through, the policy
that says what is still missing, the flow engine that runs one step at a time, and the single
sign-on session a finished login leaves behind (DESIGN.md §2).

One LoA2 login, in reading order: protocol/authorize.py → interaction/policy.py (`decide` →
`Needed("login", "LoA2")`) → interaction/pending.py (stored with `needed`, bound to the
browser) → interaction/engine.py (flow started; GET/POST /flows/<id>; outcomes → HTTP) →
flows/login.py → flows/second_factor.py → engine `Finish` → pending.finish →
protocol/authorize.resume → policy again → code. interaction/session.py holds the SSO session.
"""
