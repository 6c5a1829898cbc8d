"""The listening socket the runtime hands to uvicorn."""

from __future__ import annotations

import socket

from service.runtime.processes import bind


def test_listening_socket_disables_nagle() -> None:
    # Without TCP_NODELAY every keep-alive response stalled ~40 ms (Nagle + delayed ACK).
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        accepted_client = socket.create_connection(sock.getsockname()[:2])
        conn, _ = sock.accept()
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        conn.close()
        accepted_client.close()
    finally:
        sock.close()
