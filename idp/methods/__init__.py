"""Sign-in methods as plug-ins (issue 13 item 4): base.py is the interface, registry.py the
one list, refusal.py the one refusal type; one module per method (password, sms, totp,
recovery_code). Layer: above idp.accounts (storage, counters), below idp.interaction.
"""
