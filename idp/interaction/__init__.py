"""The interaction core: the pending authorization a browser is working through, the policy
that says what is still missing, the flow engine that runs one step at a time, and the single
sign-on session a finished login leaves behind (DESIGN.md §2)."""
