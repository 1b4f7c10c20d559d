"""`bind_shared_port`: the sockets `ocppd serve --workers` shares a port with."""

import socket

import pytest

from ocppd.transport.shared_port import bind_shared_port, port_of


def test_port_0_becomes_a_port_that_others_bind_and_that_no_other_program_can_take() -> None:
    held = bind_shared_port("127.0.0.1", 0)  # the supervisor's: bound, not listening
    port = port_of(held)
    assert port != 0
    workers = [bind_shared_port("127.0.0.1", port) for _ in range(2)]
    try:
        for sockets in workers:
            sockets[0].listen()
        # A program that does not share the port cannot bind it.
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", port))
        # A connection goes to a listening socket, never to the supervisor's.
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass
    finally:
        for sock in [*held, *(s for sockets in workers for s in sockets)]:
            sock.close()


def test_every_address_of_a_host_on_one_port() -> None:
    """ "" is every interface: 0.0.0.0 and ::, given one port between them."""
    sockets = bind_shared_port("", 0)
    try:
        if len(sockets) < 2:
            pytest.skip("one address family only")
        assert len({s.getsockname()[1] for s in sockets}) == 1
    finally:
        for sock in sockets:
            sock.close()
