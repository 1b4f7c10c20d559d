"""Bearer tokens and roles: viewer < operator < admin; 401 without a valid token, 403 below
the role a route needs."""

import asyncio
import time
import urllib.error
import urllib.request

import pytest

from ocppd.api.auth import CHECKED_FOR, RoleCache
from ocppd.api.tokens import Caller, Role
from tests.api.conftest import Api
from tests.cluster_nodes import Cluster, eventually

# (method, path, body, the least role that may)
ROUTES = [
    ("GET", "/charge-points", None, Role.VIEWER),
    ("GET", "/transactions", None, Role.VIEWER),
    ("GET", "/messages", None, Role.VIEWER),
    ("GET", "/id-tags", None, Role.VIEWER),
    ("PUT", "/id-tags/TAG1", {"status": "Accepted"}, Role.OPERATOR),
    ("POST", "/charge-points/CPX/commands/ClearCache", {}, Role.OPERATOR),
    ("PUT", "/charge-points/CPX", {}, Role.ADMIN),
    ("GET", "/tokens", None, Role.ADMIN),
]


async def test_no_token_or_an_unknown_one_is_401_with_a_challenge(api: Api) -> None:
    for client in (api.client(None), api.client(token="ocppd_not-a-token")):
        for method, path, body, _ in ROUTES:
            answer = await client(method, path, body)
            assert answer.status == 401, (method, path)
    basic = urllib.request.Request(
        f"{api.url}/api/v1/charge-points", headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        await asyncio.to_thread(urllib.request.urlopen, basic, timeout=5)
    assert refused.value.code == 401  # a scheme other than Bearer is no token
    assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


async def test_each_role_reaches_what_it_may_and_gets_403_above(api: Api) -> None:
    rank = list(Role)
    for role in Role:
        client = api.client(role)
        for method, path, body, needed in ROUTES:
            answer = await client(method, path, body)
            if rank.index(role) < rank.index(needed):
                assert answer.status == 403, (role, method, path, answer.body)
                assert needed.value in answer.body["error"]
            else:
                assert answer.status not in (401, 403), (role, method, path, answer.body)


async def test_admins_issue_list_and_revoke_tokens(api: Api) -> None:
    admin = api.client(Role.ADMIN)
    created = await admin("POST", "/tokens", {"role": "viewer", "name": "dashboard"})
    assert created.status == 201
    secret = created.body["token"]
    assert created.body["role"] == "viewer" and secret.startswith("ocppd_")
    viewer = api.client(token=secret)
    assert (await viewer("GET", "/charge-points")).status == 200
    listed = await admin("GET", "/tokens")
    assert "dashboard" in [t["name"] for t in listed.body]
    assert all("token" not in t for t in listed.body)  # secrets are never shown again
    assert (await admin("DELETE", f"/tokens/{created.body['id']}")).status == 204
    assert (await viewer("GET", "/charge-points")).status == 401
    assert (await admin("DELETE", f"/tokens/{created.body['id']}")).status == 404
    assert (await admin("DELETE", "/tokens/" + "9" * 30)).status == 400


async def test_tokens_are_stored_hashed(api: Api) -> None:
    import sqlalchemy as sa

    from ocppd.csms.models import api_tokens

    async with api.system.engine.connect() as db:
        stored = (await db.execute(sa.select(api_tokens.c.token_hash))).scalars().all()
    for secret in api.tokens.values():
        assert secret not in stored
        assert all(secret not in value for value in stored)


def test_a_role_is_forgotten_when_the_tokens_changed_since_it_was_learned() -> None:
    """A token created, used and revoked between two checks leaves the fingerprint as the
    previous check saw it (one more, then one less): what counts is the one it was learned
    under."""
    cache = RoleCache()
    before = (3, "2026-12-06 10:00:00")
    cache.checked(before)
    cache.put("ocppd_kept", Caller(1, "kept", Role.VIEWER), before)
    with_new = (4, "2026-12-06 10:00:01")  # created ...
    cache.put("ocppd_short_lived", Caller(2, "short", Role.ADMIN), with_new)  # ... and used ...
    cache.checked(before)  # ... and revoked: the count and the newest as before
    assert cache.get("ocppd_short_lived") is None
    # Learned under these tokens: still true.
    assert cache.get("ocppd_kept") == Caller(1, "kept", Role.VIEWER)
    cache.checked(with_new)  # a token created since: every role is asked again
    assert cache.get("ocppd_kept") is None


@pytest.mark.slow
async def test_a_token_revoked_through_one_node_stops_working_on_another(
    cluster: Cluster,
) -> None:
    """Each node remembers roles, and checks the tokens' fingerprint in the database at most
    once a second (`auth.CHECKED_FOR`): a token revoked through node A is refused by node B
    within that second (issue 18, behaviour 4). Asserted loosely: the machine may be loaded."""
    a, b = cluster.start("A"), cluster.start("B")
    created = await a.api("POST", "/tokens", {"role": "viewer", "name": "revoked soon"})
    assert created.status == 201, created.body
    secret = created.body["token"]
    for node in (a, b):  # remembered by both
        assert (await node.api("GET", "/charge-points", token=secret)).status == 200
    assert (await a.api("DELETE", f"/tokens/{created.body['id']}")).status == 204
    revoked_at = time.monotonic()

    async def refused() -> bool:
        return (await b.api("GET", "/charge-points", token=secret)).status == 401

    await eventually(refused, what="node B refuses the revoked token")
    assert time.monotonic() - revoked_at < CHECKED_FOR + 20
    assert (await a.api("GET", "/charge-points", token=secret)).status == 401
