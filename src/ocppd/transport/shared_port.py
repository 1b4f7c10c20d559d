"""One TCP port served by several processes (`ocppd serve --workers N`) through SO_REUSEPORT.

Each worker binds its own sockets on the port and listens; the kernel hashes each new
connection to one of the listening sockets, so connections spread evenly over the workers
whatever their load (decision 0005, "Workers": measured against one shared listening socket).
The supervisor binds the port too, without listening: it holds the port while a worker
restarts (no other program can take it meanwhile) and it is how port 0 becomes one port that
every worker shares. A socket that does not listen is given no connection.
"""

import socket

LISTEN_BACKLOG = 2048
"""uvicorn's default backlog (the kernel caps it at net.core.somaxconn)."""


def bind_shared_port(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to `port` (0: one the system picks) on every address of `host`, as
    asyncio's `create_server` binds them, each open to other sockets of this user on the same
    port. Not listening yet. Raises OSError when the port cannot be had."""
    addresses = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    try:
        for family, kind, protocol, _, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, protocol)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                # Else an IPv6 socket would claim the IPv4 port too and its IPv4 twin fail.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:
                # Every address on the port the first one was given.
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            sock.bind(address)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def port_of(sockets: list[socket.socket]) -> int:
    return int(sockets[0].getsockname()[1])
