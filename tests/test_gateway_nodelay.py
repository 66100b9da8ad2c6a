"""The console's listening socket gets TCP_NODELAY, so accepted connections answer without waiting on Nagle.

Streamlit binds its socket with `proto` 0, which asyncio's own TCP_NODELAY step skips; uvicorn then writes a
response's headers and body as two segments and the body waits ~40 ms for the client's delayed ACK
(bench/gateway.py measured 48 ms per API request). These tests bind exactly as Streamlit does.
"""

from __future__ import annotations

import asyncio
import socket

from streamlit.web.server.starlette.starlette_server import _bind_socket

from core.app.gateway import gateway_lifespan
from core.app.gateway.nodelay import nodelay_listeners


def _accepted_nodelay(listener: socket.socket) -> int:
    with socket.create_connection(listener.getsockname()):
        listener.setblocking(True)
        conn, _ = listener.accept()
        with conn:
            return conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_streamlit_listener_passes_nagle_to_its_connections_until_set():
    with _bind_socket("127.0.0.1", 0, 16) as listener:
        assert _accepted_nodelay(listener) == 0         # Streamlit's own socket: Nagle on every connection
        assert nodelay_listeners() >= 1
        assert _accepted_nodelay(listener) == 1


def test_gateway_lifespan_sets_nodelay_on_the_bound_listener():
    async def run() -> None:
        async with gateway_lifespan(None):
            pass

    with _bind_socket("127.0.0.1", 0, 16) as listener:
        asyncio.run(run())
        assert _accepted_nodelay(listener) == 1


def test_other_sockets_are_left_alone():
    with socket.socket() as client_side, socket.socket(type=socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        nodelay_listeners()
        assert client_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
