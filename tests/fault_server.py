"""A FakeOpenAI that fails at random: the providers of the fault and load suite.

    server = FaultyOpenAI(fail_rate=0.3, seed=1, hang_seconds=1.5).start()
    server.url          # http://127.0.0.1:PORT/v1, OpenAI-compatible (JSON and SSE)
    server.served       # Counter: {"ok": 70, "503": 4, "hang": 3, "reset": 3, ...}
    server.keys_seen    # Counter of the bearer keys received (the keys stay in this process's memory)

Each chat request fails with probability `fail_rate` (a seeded RNG: the sequence of draws is
repeatable, which request gets which draw depends on thread timing), with a fault drawn uniformly
from FAULTS: 429 with Retry-After, 429 without, 500, 502, 503, a hang past the client's timeout, a
200 whose body is not JSON, a broken body (a stream cut mid-way by an error chunk, by a close
without [DONE] or by a reset; a JSON body cut short) and a connection reset before any byte of the
answer. Error bodies echo the caller's key back, the worst case for redaction. Otherwise it answers
like FakeOpenAI. Scripted behaviours (`queue(...)`) still come first.

Memory stays bounded for long runs: only the last 256 requests are kept in `requests`.
`ServerProcess` runs several servers in a child process, so a benchmark's client process does not
share its GIL or heap with them.
"""

from __future__ import annotations

import contextlib
import json
import random
import select
import socket
import struct
import subprocess
import sys
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.fake_openai import (
    FakeOpenAI,
    Hang,
    NotJSON,
    Recorded,
    Reply,
    Status,
    StreamThenError,
    Truncated,
    _chunk,
    _completion,
    model_answer,
    split_words,
)

_ROOT = Path(__file__).resolve().parent.parent
FAULTS = ("429_retry_after", "429", "500", "502", "503", "hang", "not_json", "broken_stream", "reset")


@dataclass
class Reset:
    """Close the connection with a TCP RST: before any byte of the answer, or after `chunks` SSE chunks."""
    chunks: int = 0


@dataclass
class CutBody:
    """A 200 JSON answer whose body stops half-way (the Content-Length promises more)."""


class _Chaos:
    """The default behaviour: draw ok-or-fault for each request."""


class FaultyOpenAI(FakeOpenAI):
    def __init__(self, fail_rate: float = 0.3, seed: int = 0, *, hang_seconds: float = 1.5,
                 faults: tuple[str, ...] = FAULTS, reply: Reply | None = None) -> None:
        super().__init__()
        unknown = set(faults) - set(FAULTS)
        if unknown or not faults:
            raise ValueError(f"unknown faults: {sorted(unknown)}; choose from {FAULTS}")
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        self.fail_rate = fail_rate
        self.hang_seconds = hang_seconds
        self.faults = tuple(faults)
        self.reply = reply or Reply()
        self.requests: deque[Recorded] = deque(maxlen=256)   # type: ignore[assignment]
        self.served: Counter[str] = Counter()
        self.keys_seen: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self.default = _Chaos()

    def start(self) -> FaultyOpenAI:
        super().start()
        # socketserver listens with a backlog of 5: under dozens of clients opening connections at once
        # (every SSE answer closes its connection) the kernel drops SYNs, and each drop costs the client
        # a 1 s retransmit, which a 1 s connect timeout reports as a provider timeout.
        self._server.socket.listen(1024)
        return self

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.served.clear()
            self.keys_seen.clear()
        self.default = _Chaos()

    @property
    def failures(self) -> int:
        return sum(n for fault, n in self.served.items() if fault != "ok")

    # ---------------------------------------------------------------- drawing a fault

    def _draw(self) -> str:
        with self._lock:
            if self._rng.random() >= self.fail_rate:
                return "ok"
            return self._rng.choice(self.faults)

    def _behaviour(self, fault: str, stream: bool, key: str) -> Any:
        echo = f"upstream trouble for key {key}" if key else "upstream trouble"
        if fault == "ok":
            return self.reply
        if fault == "429_retry_after":
            return Status(429, f"rate limited {echo}", retry_after="1")
        if fault in ("429", "500", "502", "503"):
            return Status(int(fault), f"HTTP {fault}: {echo}")
        if fault == "hang":
            return Hang(self.hang_seconds)
        if fault == "not_json":
            return NotJSON(200, f"<html><body>Bad gateway from a proxy: {echo}</body></html>")
        if fault == "broken_stream":
            if not stream:
                return CutBody()
            with self._lock:
                how = self._rng.choice(("error_chunk", "truncated", "reset"))
            if how == "reset":
                return Reset(chunks=3)
            return StreamThenError(3, echo) if how == "error_chunk" else Truncated(3)
        return Reset()

    # ---------------------------------------------------------------- serving

    def _record(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        key = (handler.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        with self._lock:
            self.requests.append(Recorded(handler.command, handler.path,
                                          {k.lower(): v for k, v in handler.headers.items()}, body))
            if handler.command == "POST":
                self.keys_seen[key] += 1

    def _respond(self, h: BaseHTTPRequestHandler, body: dict, b: Any) -> None:
        stream = bool(body.get("stream"))
        fault = None
        if isinstance(b, _Chaos):
            fault = self._draw()
            key = (h.headers.get("authorization") or "").removeprefix("Bearer ").strip()
            b = self._behaviour(fault, stream, key)
        with self._lock:
            self.served[fault or type(b).__name__] += 1
        if isinstance(b, Reset):
            self._reset(h, body, b.chunks)
        elif isinstance(b, CutBody):
            self._cut_body(h, body)
        else:
            super()._respond(h, body, b)

    def _reset(self, h: BaseHTTPRequestHandler, body: dict, chunks: int) -> None:
        if chunks:
            self._sse_start(h)
            for piece in split_words(model_answer(body.get("messages") or []))[:chunks]:
                self._sse(h, _chunk(piece, body.get("model")))
        # SO_LINGER with a zero timeout turns close() into a RST instead of a FIN.
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.close()

    def _cut_body(self, h: BaseHTTPRequestHandler, body: dict) -> None:
        data = json.dumps(_completion(model_answer(body.get("messages") or []), body.get("model"), 7, 5,
                                      None)).encode()
        h.send_response(200)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: len(data) // 2])
        h.wfile.flush()
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------- servers in a child process

class ServerProcess:
    """`count` FaultyOpenAI servers in a child process (`python -m tests.fault_server`), spoken to over
    its stdin/stdout: it prints the URLs as one JSON line, and on "stop" prints what each server served.

        with ServerProcess(3, fail_rate=0.3, seed=7) as servers:
            servers.urls          # three http://127.0.0.1:PORT/v1
        servers.report            # per server: {"served": {...}, "keys_seen": {...}}

    A plain subprocess rather than multiprocessing: spawn re-runs the parent's `__main__`, and after an
    AppTest run that is the app's Home.py.
    """

    def __init__(self, count: int, fail_rate: float, seed: int = 0, hang_seconds: float = 1.5,
                 start_timeout: float = 20.0):
        self.args = [str(count), str(fail_rate), str(seed), str(hang_seconds)]
        self.start_timeout = start_timeout
        self.urls: list[str] = []
        self.report: list[dict[str, Any]] = []
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> ServerProcess:
        self._process = subprocess.Popen([sys.executable, "-m", "tests.fault_server", *self.args], cwd=_ROOT,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.urls = json.loads(self._readline(self.start_timeout))
        return self

    def __exit__(self, *exc: Any) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        with contextlib.suppress(OSError, ValueError):
            process.stdin.write("stop\n")
            process.stdin.flush()
            self.report = json.loads(self._readline(10.0))
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def _readline(self, timeout: float) -> str:
        assert self._process is not None and self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            self._process.kill()
            raise RuntimeError("the fault servers did not answer in time")
        return line


def _serve_stdio(count: int, fail_rate: float, seed: int, hang_seconds: float) -> None:
    servers = start_servers(count, fail_rate, seed, hang_seconds)
    print(json.dumps([s.url for s in servers]), flush=True)
    sys.stdin.readline()                 # "stop", or EOF when the parent went away
    print(json.dumps([{"served": dict(s.served), "keys_seen": dict(s.keys_seen)} for s in servers]), flush=True)
    for s in servers:
        s.stop()


def start_servers(count: int, fail_rate: float, seed: int = 0, hang_seconds: float = 1.5) -> list[FaultyOpenAI]:
    """`count` in-process servers with seeds seed, seed+1, …"""
    return [FaultyOpenAI(fail_rate, seed + i, hang_seconds=hang_seconds).start() for i in range(count)]


__all__ = ["FAULTS", "CutBody", "FaultyOpenAI", "Reset", "ServerProcess", "start_servers"]


if __name__ == "__main__":      # python -m tests.fault_server COUNT FAIL_RATE SEED HANG_SECONDS (see ServerProcess)
    _serve_stdio(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
