"""How the kernel spreads connections over the processes of one port (`ocppd serve --workers`):
one listening socket they all accept on, or a socket each with SO_REUSEPORT.

    .venv/bin/python bench/shared_port.py [--processes 2] [--connections 2000] [--runs 5]

Each process is a uvloop server that answers a connection with its number and keeps it open,
as a charger's connection stays; the client opens `--connections` of them, `--concurrency` at
a time (1: one after the other; many: a reconnect storm), and counts what each process got.
Decision 0005 ("Workers") reads its results (`bench/results/shared-port.txt`).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
from collections import Counter
from multiprocessing.connection import Connection

import uvloop

from ocppd.transport.shared_port import bind_shared_port, port_of

MODES = ("shared", "reuseport")


def serve(mode: str, port: int, number: int, shared: int, ready: Connection) -> None:
    async def main() -> None:
        async def answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(f"{number}\n".encode())
            await asyncio.sleep(3600)

        if mode == "shared":
            sock = socket.socket(fileno=shared)
        else:
            [sock] = bind_shared_port("127.0.0.1", port)
        await asyncio.start_server(answer, sock=sock, backlog=4096)
        ready.send(number)
        await asyncio.sleep(3600)

    uvloop.run(main())


async def connect_all(port: int, connections: int, concurrency: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    writers: list[asyncio.StreamWriter] = []
    limit = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with limit:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            counts[(await reader.readline()).decode().strip()] += 1
            writers.append(writer)

    await asyncio.gather(*(one() for _ in range(connections)))
    for writer in writers:
        writer.close()
    return counts


def measure(mode: str, processes: int, connections: int, concurrency: int) -> list[int]:
    """Connections each process got."""
    if mode == "shared":
        holder = socket.create_server(("127.0.0.1", 0), backlog=4096)
    else:
        [holder] = bind_shared_port("127.0.0.1", 0)  # holds the port, does not listen
    port = port_of([holder])
    context = multiprocessing.get_context("fork")
    pipes = [context.Pipe(duplex=False) for _ in range(processes)]
    servers = [
        context.Process(target=serve, args=(mode, port, n, holder.fileno(), pipes[n][1]))
        for n in range(processes)
    ]
    for server in servers:
        server.start()
    for receiving, _ in pipes:
        receiving.recv()
    try:
        counts = asyncio.run(connect_all(port, connections, concurrency))
    finally:
        for server in servers:
            server.kill()
            server.join()
        holder.close()
    return [counts[str(n)] for n in range(processes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 500])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for concurrency in args.concurrency:
        for mode in MODES:
            runs = [
                measure(mode, args.processes, args.connections, concurrency)
                for _ in range(args.runs)
            ]
            shares = [max(run) / sum(run) for run in runs]
            print(
                f"{mode:9} {args.connections} connections, {concurrency:4} at a time: "
                f"{'  '.join('/'.join(map(str, run)) for run in runs)}  "
                f"(largest share {max(shares):.0%})",
                flush=True,
            )


if __name__ == "__main__":
    main()
