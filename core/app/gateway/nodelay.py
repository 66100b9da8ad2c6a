"""TCP_NODELAY on the console's listening socket, so a response's body is not held back by Nagle.

    nodelay_listeners()         # in st.App's lifespan (core/app/gateway/__init__.py): the socket listens by then

Streamlit binds its socket itself (`socket.socket(family)`, so `proto` is 0), and asyncio switches Nagle's
algorithm off only for sockets whose `proto` is IPPROTO_TCP. Every accepted connection then keeps Nagle on:
uvicorn writes a response's headers and body as two segments, the body waits for the client's delayed ACK,
and each API request (and /healthz) took ~44 ms instead of ~1 ms (bench/gateway.py). The lifespan runs after
the socket is bound; on Linux a connection accepted from a listener with TCP_NODELAY inherits it.
"""

from __future__ import annotations

import os
import socket
import stat

FD_FOLDER = "/dev/fd"


def nodelay_listeners() -> int:
    """Set TCP_NODELAY on every listening TCP socket of this process; how many were set."""
    try:
        fds = [int(name) for name in os.listdir(FD_FOLDER)]
    except (OSError, ValueError):
        return 0                # no /dev/fd here: nothing to do, the console works as before
    done = 0
    for fd in fds:
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))      # our own descriptor: closing it leaves theirs open
        except OSError:
            continue
        with sock:
            try:
                if (sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM
                        and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    done += 1
            except OSError:
                continue
    return done
