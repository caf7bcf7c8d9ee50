"""The OpenID Connect protocol: authorization endpoint and its resumption, grants, token,
userinfo, introspection, revocation, logout, keys published, claims and discovery."""
