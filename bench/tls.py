"""TLS on the central system (issue 19): handshakes per second and memory per idle connection,
plain and TLS side by side, in one run.

    .venv/bin/python bench/tls.py                     # defaults: 8 s per variant, 1,000 idle
    .venv/bin/python bench/tls.py --seconds 5 --idle 500

`ocppd serve` as operators run it (its Service, SQLite, registration open) with a plain port
and a TLS port (`--tls-port`, the certificates of ocppd's own CA: an ECDSA P-256 server
certificate and an RSA 2048 one, client certificates trusted), in a process of its own; the
charge points in another (a small asyncio client: TCP, TLS, the WebSocket upgrade).

- Handshakes: `--concurrency` clients connect, get the 101 of the upgrade (admission
  included: the charger's record read, the connection opened and published) and close, over
  and over for `--seconds`; per second, and the server's CPU time per connection (the figure
  that holds on a loaded machine: the client runs on the same cores).
- Idle memory: `--idle` connections upgraded and booted (BootNotification answered), then the
  server's RSS growth per connection, a fresh server per variant.

Variants: plain ws; TLS 1.3 (ECDSA certificate); TLS 1.2 TLS_RSA_WITH_AES_128_GCM_SHA256 (the
white paper's RSA suite, no forward secrecy: the cheapest for the server); TLS 1.3 with a
client certificate (security profile 3: verified by OpenSSL, CN checked by admission).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from processes import cpu_seconds, rss_mib  # noqa: E402

VARIANTS = ("plain", "tls13", "tls12-rsa", "mutual")
BOOT = b'[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


# --- the certificates (ocppd's own CA code) ---------------------------------------------------


def make_pki(directory: Path, identities: list[str]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from ocppd.csms.certificate_authority import (
        PrivateKey,
        create_authority,
        key_pem,
        new_key,
        new_rsa_key,
        pem,
    )

    def _name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    now = datetime.now(UTC)
    ca = create_authority(now, "bench CA")
    (directory / "ca.pem").write_text(pem(ca.certificate))
    server = ExtendedKeyUsageOID.SERVER_AUTH
    keys: list[tuple[str, PrivateKey]] = [("ecdsa", new_key()), ("rsa", new_rsa_key(2048))]
    for name, server_key in keys:
        public = server_key.public_key()
        cert = ca.issue(_name("localhost"), public, now, 30, server, ["127.0.0.1"])
        (directory / f"server-{name}.pem").write_text(pem(cert))
        (directory / f"server-{name}.key").write_bytes(key_pem(server_key))
    client = ExtendedKeyUsageOID.CLIENT_AUTH
    key = new_key()  # one key for every charger: what is measured is the server's side
    (directory / "client.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    for identity in identities:
        cert = ca.issue(_name(identity), key.public_key(), now, 30, client)
        (directory / f"client-{identity}.pem").write_text(pem(cert))


# --- the server's process ---------------------------------------------------------------------


def serve(data: Path, pki: Path) -> None:
    from ocppd.csms.service import Service, run
    from ocppd.csms.settings import RegistrationPolicy, Settings

    settings = Settings(
        port=0,
        tls_port=0,
        data_dir=data,
        registration=RegistrationPolicy.OPEN,
        tls_cert=pki / "server-rsa.pem",
        tls_key=pki / "server-rsa.key",
        tls_ecdsa_cert=pki / "server-ecdsa.pem",
        tls_ecdsa_key=pki / "server-ecdsa.key",
        tls_client_ca=pki / "ca.pem",
        ping_interval=0,
    )
    service: Service | None = None

    def listening(port: int) -> None:
        assert service is not None
        print(json.dumps({"port": port, "tls_port": service.tls_port}), flush=True)

    service = Service(settings, on_listening=listening)
    run(service)


# --- the chargers' process ----------------------------------------------------------------------


def client_context(variant: str, pki: Path, identity: str) -> ssl.SSLContext | None:
    if variant == "plain":
        return None
    context = ssl.create_default_context(cafile=pki / "ca.pem")
    if variant == "tls12-rsa":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("AES128-GCM-SHA256")
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    if variant == "mutual":
        context.load_cert_chain(pki / f"client-{identity}.pem", pki / "client.key")
    return context


def upgrade(identity: str) -> bytes:
    return (
        f"GET /ocpp/{identity} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
    ).encode()


def text_frame(payload: bytes) -> bytes:
    """A masked text frame (mask 0: legal, and XOR with zero changes nothing)."""
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload), 0, 0, 0, 0]) + payload


async def connect(
    port: int, identity: str, context: ssl.SSLContext | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    writer.write(upgrade(identity))
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"{identity}: {head.splitlines()[0]!r}")
    return reader, writer


async def handshakes(args: argparse.Namespace, pki: Path) -> None:
    count = 0
    deadline = time.monotonic() + args.seconds

    async def loop(worker: int) -> None:
        nonlocal count
        identity = f"{args.variant.upper().replace('-', '')}{worker}"
        context = client_context(args.variant, pki, identity)
        while time.monotonic() < deadline:
            _, writer = await connect(args.port, identity, context)
            writer.close()
            await writer.wait_closed()
            count += 1

    started = time.monotonic()
    await asyncio.gather(*(loop(i) for i in range(args.concurrency)))
    print(json.dumps({"handshakes": count, "seconds": time.monotonic() - started}), flush=True)


async def idle(args: argparse.Namespace, pki: Path) -> None:
    held = []
    semaphore = asyncio.Semaphore(32)

    async def open_one(i: int) -> None:
        identity = f"IDLE{i}"
        context = client_context(args.variant, pki, identity)
        async with semaphore:
            reader, writer = await connect(args.port, identity, context)
            writer.write(text_frame(BOOT))
            await reader.read(4096)  # the answer (one frame, one read on loopback)
            held.append(writer)

    await asyncio.gather(*(open_one(i) for i in range(args.idle)))
    print(json.dumps({"idle": len(held)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for writer in held:
        writer.close()


# --- the run --------------------------------------------------------------------------------------


class Server:
    def __init__(self, data: Path, pki: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "serve", "--data", str(data), "--pki", str(pki)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        ports = json.loads(self.process.stdout.readline())
        self.port, self.tls_port = ports["port"], ports["tls_port"]

    def port_for(self, variant: str) -> int:
        return int(self.port if variant == "plain" else self.tls_port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def chargers(variant: str, port: int, pki: Path, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "client", variant, str(port), "--pki", str(pki), *options],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def measure(args: argparse.Namespace, tmp: Path, pki: Path) -> None:
    print("# bench/tls.py: TLS handshakes and idle memory, plain beside TLS\n")
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the start; ", end="")
    print(f"{ssl.OPENSSL_VERSION}; {args.concurrency} clients, {args.seconds:g} s per variant\n")
    print("| variant | connections/s | server CPU ms per connection |\n|---|--:|--:|")
    server = Server(tmp / "handshakes", pki)
    try:
        for variant in VARIANTS:
            cpu0 = cpu_seconds([server.process.pid])
            options = ["--seconds", str(args.seconds), "--concurrency", str(args.concurrency)]
            client = chargers(variant, server.port_for(variant), pki, *options)
            out, _ = client.communicate(timeout=args.seconds + 300)
            cpu = cpu_seconds([server.process.pid]) - cpu0
            result = json.loads(out.splitlines()[-1])
            rate = result["handshakes"] / result["seconds"]
            print(f"| {variant} | {rate:,.0f} | {cpu * 1000 / result['handshakes']:.2f} |")
    finally:
        server.stop()
    print(f"\n{args.idle:,} idle connections (booted), a fresh server each:\n")
    print("| variant | server RSS growth | per connection |\n|---|--:|--:|")
    for variant in VARIANTS:
        server = Server(tmp / f"idle-{variant}", pki)
        try:
            time.sleep(1)
            before = rss_mib([server.process.pid])
            client = chargers(variant, server.port_for(variant), pki, "--idle", str(args.idle))
            assert client.stdout is not None and client.stdin is not None
            opened = json.loads(client.stdout.readline())["idle"]
            time.sleep(args.settle)
            grown = rss_mib([server.process.pid]) - before
            client.stdin.write("\n")
            client.stdin.flush()
            client.wait(120)
            print(f"| {variant} | {grown:.1f} MiB | {grown * 1024 / opened:.1f} KiB |")
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command")
    run_parser = commands.add_parser("run")
    for p in (parser, run_parser):
        p.add_argument("--seconds", type=float, default=8.0)
        p.add_argument("--concurrency", type=int, default=8)
        p.add_argument("--idle", type=int, default=1000)
        p.add_argument("--settle", type=float, default=3.0)
    serve_parser = commands.add_parser("serve")
    serve_parser.add_argument("--data", type=Path)
    serve_parser.add_argument("--pki", type=Path)
    client_parser = commands.add_parser("client")
    client_parser.add_argument("variant", choices=VARIANTS)
    client_parser.add_argument("port", type=int)
    client_parser.add_argument("--pki", type=Path)
    client_parser.add_argument("--seconds", type=float, default=8.0)
    client_parser.add_argument("--concurrency", type=int, default=8)
    client_parser.add_argument("--idle", type=int, default=0)
    args = parser.parse_args()
    import uvloop

    if args.command == "serve":
        serve(args.data, args.pki)
    elif args.command == "client":
        work = idle if args.idle else handshakes
        uvloop.run(work(args, args.pki))
    else:
        with tempfile.TemporaryDirectory(prefix="ocppd-tls-bench-") as tmpdir:
            tmp = Path(tmpdir)
            pki = tmp / "pki"
            pki.mkdir()
            identities = [f"MUTUAL{i}" for i in range(args.concurrency)]
            make_pki(pki, identities + [f"IDLE{i}" for i in range(args.idle)])
            measure(args, tmp, pki)


if __name__ == "__main__":
    main()
