"""Sign-in through an upstream identity provider: "Đăng nhập bằng VNeID" (issue 16).

Reading order: upstream_step.py (the button, the round trip to VNeID and back, where the flow
goes next) → flow.py (the "federated" flow kind: create an account, move an old CMND account
(former.py), or the account's second factor) → logout.py (logout across the border).
Below: accounts/federation.py (account linking), platform/upstream/ (the relying party
toward VNeID: discovery, ID-token checks, the encrypted responses), interaction/
upstream_session.py (what logout needs of the upstream login).
"""
