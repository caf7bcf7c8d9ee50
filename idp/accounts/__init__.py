"""Accounts: citizens and what protects them — ID-number and phone rules, passwords,
throttling and lock-out, known devices, SMS budgets, phone codes, second-factor records,
recovery, complaints and the carrier subscriber check. No HTTP, no protocol."""
