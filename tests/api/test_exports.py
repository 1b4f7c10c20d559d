"""A transaction's meter values as CSV: every sampled value a row, hostile values inert."""

import asyncio
import csv
import io

from ocppd.api.tokens import Role
from tests.api.conftest import Api, charge_point
from tests.api.test_transactions import energy_reading, start
from tests.web.conftest import fetch


async def test_meter_values_as_csv(api: Api) -> None:
    async with charge_point(api) as cp:
        tx = await start(cp, "TAG1", 1, 1000, "2026-11-25T10:00:00Z")
        await cp.ask("MeterValues", energy_reading(tx, "2026-11-25T10:15:00Z", "1.5", "kWh"))
        hostile = energy_reading(tx, "2026-11-25T10:30:00Z", "-12.5")
        hostile["meterValue"][0]["sampledValue"].append(
            {"value": '=HYPERLINK("http://x","a,b")', "measurand": "SoC", "unit": "Percent"}
        )
        await cp.ask("MeterValues", hostile)
    url = f"{api.url}/api/v1/transactions/{tx}/meter-values.csv"
    page = await asyncio.to_thread(fetch, url, api.tokens[Role.VIEWER])
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/csv")
    assert f'filename="transaction-{tx}-meter-values.csv"' in page.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(page.text)))
    assert [(r["timestamp"], r["measurand"], r["unit"], r["value"]) for r in rows] == [
        ("2026-11-25T10:15:00Z", "Energy.Active.Import.Register", "kWh", "1.5"),
        ("2026-11-25T10:15:00Z", "Power.Active.Import", "W", "7200"),
        ("2026-11-25T10:30:00Z", "Energy.Active.Import.Register", "Wh", "-12.5"),
        ("2026-11-25T10:30:00Z", "Power.Active.Import", "W", "7200"),
        ("2026-11-25T10:30:00Z", "SoC", "Percent", '\'=HYPERLINK("http://x","a,b")'),
    ]
    assert {r["transactionId"] for r in rows} == {str(tx)}
    assert {r["chargePointId"] for r in rows} == {"CP1"}


async def test_unknown_transaction_and_roles(api: Api) -> None:
    base = f"{api.url}/api/v1/transactions"
    missing = await asyncio.to_thread(
        fetch, f"{base}/424242/meter-values.csv", api.tokens[Role.VIEWER]
    )
    assert missing.status == 404 and "unknown transaction 424242" in missing.text
    assert (await asyncio.to_thread(fetch, f"{base}/1/meter-values.csv")).status == 401
    too_big = await asyncio.to_thread(
        fetch, f"{base}/{2**70}/meter-values.csv", api.tokens[Role.VIEWER]
    )
    assert too_big.status in (400, 404)
