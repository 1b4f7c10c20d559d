"""GET /me: the caller's token, any role; what the dashboard reads to hide what it may not do."""

from ocppd.api.tokens import Role
from tests.api.conftest import Api


async def test_each_role_reads_itself(api: Api) -> None:
    seen = set()
    for role in Role:
        answer = await api.client(role)("GET", "/me")
        assert answer.status == 200
        assert answer.body["role"] == role.value and answer.body["name"] == role.value
        seen.add(answer.body["tokenId"])
    assert len(seen) == len(Role)


async def test_no_token_unknown_token_and_revoked_token(api: Api) -> None:
    assert (await api.client(None)("GET", "/me")).status == 401
    assert (await api.client(token="ocppd_nope")("GET", "/me")).status == 401
    admin = api.client(Role.ADMIN)
    created = (await admin("POST", "/tokens", {"role": "viewer", "name": "x"})).body
    assert (await api.client(token=created["token"])("GET", "/me")).body["role"] == "viewer"
    assert (await admin("DELETE", f"/tokens/{created['id']}")).status == 204
    gone = await api.client(token=created["token"])("GET", "/me")
    assert gone.status == 401 and gone.body["error"] == "unknown token"
