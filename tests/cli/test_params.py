"""Arguments ocppd stores itself (`charge-point add`, `token create`): text that is no UTF-8 (an
undecodable argument), or longer than its column, is refused before the database is opened
(exit 2, naming the argument); what fits is stored as given. URLs and tokens that no request
could carry are refused the same way."""

import asyncio
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner, Result

from ocppd.cli import main
from ocppd.csms.database import create_engine
from ocppd.csms.models import charge_points

UNDECODABLE = b"cp\xff".decode(errors="surrogateescape")
"""What Python makes of the argument bytes `cp\\xff` under a UTF-8 locale."""


def ocppd(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path), "--create"])


def registered(tmp_path: Path) -> list[str]:
    async def load() -> list[str]:
        engine = create_engine(f"sqlite:///{tmp_path / 'ocppd.db'}")
        try:
            async with engine.connect() as db:
                return sorted((await db.execute(sa.select(charge_points.c.id))).scalars())
        finally:
            await engine.dispose()

    return asyncio.run(load())


def test_charge_point_add_refuses_what_no_database_holds(tmp_path: Path) -> None:
    refused = ocppd(tmp_path, "charge-point", "add", UNDECODABLE)
    assert refused.exit_code == 2, refused.output
    assert "Invalid value for 'IDENTITY': not UTF-8" in refused.output
    key = ocppd(tmp_path, "charge-point", "add", "CP1", "--auth-key", UNDECODABLE)
    assert key.exit_code == 2 and "'--auth-key': not UTF-8" in key.output
    assert ocppd(tmp_path, "charge-point", "add", "CP1").exit_code == 0
    assert registered(tmp_path) == ["CP1"]


def test_token_create_refuses_a_name_beyond_its_column(tmp_path: Path) -> None:
    for name, reason in [("n" * 256, "longer than 255 characters"), (UNDECODABLE, "not UTF-8")]:
        refused = ocppd(tmp_path, "token", "create", "--role", "viewer", "--name", name)
        assert refused.exit_code == 2, refused.output
        assert f"'--name': {reason}" in refused.output
    created = ocppd(tmp_path, "token", "create", "--role", "viewer", "--name", "n" * 255)
    assert created.exit_code == 0 and created.stdout.startswith("ocppd_")


def test_urls_and_tokens_that_cannot_be_sent_are_refused_before_anything_is(
    tmp_path: Path,
) -> None:
    """Exit 2 naming the option, not a traceback from the HTTP or WebSocket client."""
    cases = [
        (["charge-points", "--url", f"http://127.0.0.1:9000/{UNDECODABLE}"], "'--url'", "ASCII"),
        (["charge-points", "--url", "http://127.0.0.1:9000/caf\u00e9"], "'--url'", "ASCII"),
        (["transactions", "--url", "ftp://127.0.0.1"], "'--url'", "http:// or https://"),
        (["charge-points", "--url", "http://[::1"], "'--url'", "not a URL"),
        (["charge-points", "--token", UNDECODABLE], "'--token'", "not a token"),
        (["call", "CP1", "Reset", "--token", "a b"], "'--token'", "not a token"),
        (["simulate", "--url", "http://127.0.0.1:9000/ocpp"], "'--url'", "ws:// or wss://"),
        (["simulate", "--url", f"ws://127.0.0.1:9000/{UNDECODABLE}"], "'--url'", "ASCII"),
    ]
    for args, option, why in cases:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert f"Invalid value for {option}" in result.output and why in result.output, args
    from_env = CliRunner().invoke(main, ["charge-points"], env={"OCPPD_TOKEN": UNDECODABLE})
    assert from_env.exit_code == 2 and "OCPPD_TOKEN" in from_env.output
