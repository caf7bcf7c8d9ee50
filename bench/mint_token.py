"""One login at an OP through the shared driver (its interaction plug-in, users file and SMS
sink, the same arguments as driver/run_flows.py): prints the access token, for the userinfo
and introspection workloads (bench/wrk_api.py). Run with the driver's python, BENCH = the
set-up copy of the shared bench (see bench/lib-drive.sh, drive_api)."""
from __future__ import annotations

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("BENCH", "/tmp/bench"), "driver"))
import run_flows  # noqa: E402
from oidcbench import core, smssink  # noqa: E402
from oidcbench.users import User  # noqa: E402


async def mint(a) -> str:
    users = (run_flows.load_users(a.users_file, 1) if a.users_file
             else [User(a.username, a.password, a.phone)])
    user = users[0]
    target = core.Target(
        issuer=a.issuer, client_id=a.client_id, client_secret=a.client_secret,
        redirect_uri=a.redirect_uri, username=user.username, password=user.password,
        interaction=run_flows.load_callable(a.interaction), scope=a.scope, phone=user.phone,
        token_auth=a.token_auth)
    sink = None
    if a.sms_sink:
        host, port = smssink.parse_listen(a.sms_sink)
        sink = smssink.SmsSink(host, port, a.sms_max_phones)
        await sink.start()
    pool = core.Pool(2)
    boot = core.Browser(pool)
    try:
        ep = await core.discover(boot, a.issuer)
        jwks = core.JwksCache(ep.jwks_uri)
        await jwks.load(boot)
        result = await core.full_flow(pool, target, ep, jwks)
        return str(result["tokens"]["access_token"])
    finally:
        await boot.close()
        await pool.close()
        if sink is not None:
            await sink.stop()


if __name__ == "__main__":
    print(asyncio.run(mint(run_flows.parse_args(sys.argv[1:]))))
