"""Figures for the simulator's security profiles (issue 19): what a CSR's key costs (EC P-256,
the default, against RSA 2048), and how long a fleet of stations takes to connect and boot on
profile 0 (ws), 2 (TLS and Basic auth) and 3 (TLS with client certificates), side by side in
one run.

    .venv/bin/python bench/simulator_security.py            # 300 stations, 20 keys
    .venv/bin/python bench/simulator_security.py --quick    # 50 stations, 5 keys

The central system is a minimal one (websockets + ssl, the tests' `central.py`) in this
process, so the figures are the simulator's and Python's TLS, both sides on one core. The
machine is shared: read the ratios more than the absolute figures; the load average is
printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.chargepoint.central import CentralSystem
from tests.chargepoint.pki import ServerTls, key_pem, pem

from ocppd.chargepoint import Clock, Station, certificates
from ocppd.chargepoint.security import SecuritySettings
from ocppd.transport.client import ClientOptions

KEY = "0123456789abcdef0123"


def keys(kind: certificates.KeyType, rounds: int) -> list[float]:
    """Milliseconds for a new key and its CSR, each round."""
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        key = certificates.new_key(kind)
        certificates.csr_pem(key, "CP1", "Bench CPO")
        spent.append((time.perf_counter() - started) * 1000)
    return spent


async def fleet(profile: int, count: int, tls: ServerTls, directory: Path) -> float:
    """Seconds until `count` stations on `profile` are all accepted."""
    context = None if profile == 0 else tls.context(profile == 3)
    async with CentralSystem(tls=context, password=KEY if profile in (1, 2) else None) as central:
        stations = []
        for n in range(count):
            identity = f"B{profile}-{n}"
            settings: dict[str, Any] = {"profile": profile, "ca_file": str(tls.ca_file)}
            if profile == 3:
                key, certificate = tls.ca.leaf(identity)
                (directory / f"{identity}.pem").write_text(pem(certificate))
                (directory / f"{identity}.key").write_text(key_pem(key))
                settings |= {
                    "client_cert": str(directory / f"{identity}.pem"),
                    "client_key": str(directory / f"{identity}.key"),
                }
            options = ClientOptions(password=None if profile == 0 else KEY)
            station = Station(
                central.url,
                identity,
                clock=Clock(speed=100),
                client_options=options,
                security=SecuritySettings(**settings),
            )
            stations.append(station)
        started = time.perf_counter()
        try:
            await asyncio.gather(*(station.wait_accepted(timeout=300) for station in stations))
            return time.perf_counter() - started
        finally:
            await asyncio.gather(*(station.stop() for station in stations))


async def main(count: int, rounds: int) -> None:
    print(f"load average {os.getloadavg()[0]:.1f}; {count} stations, {rounds} keys")
    for kind in ("ec", "rsa"):
        spent = keys(kind, rounds)
        print(
            f"key + CSR {kind:>3}: median {statistics.median(spent):7.1f} ms, "
            f"max {max(spent):7.1f} ms"
        )
    with tempfile.TemporaryDirectory() as directory:
        tls = ServerTls.create(Path(directory))
        for profile in (0, 2, 3):
            seconds = await fleet(profile, count, tls, Path(directory))
            print(
                f"profile {profile}: {count} stations accepted in {seconds:6.2f} s "
                f"({count / seconds:7.1f} stations/s)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(main(50 if arguments.quick else 300, 5 if arguments.quick else 20))
