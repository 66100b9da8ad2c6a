"""Replay public recorded provider traffic on 127.0.0.1, to the real provider code.

    server = ReplayServer().start()
    server.play(recorded("hfh_together_stream.yaml"), recorded("pai_openrouter_429_raw.yaml"))
    cfg = {"huggingface": {"url": server.url}}       # the provider's base URL points here
    server.requests                                   # what the provider sent: path, headers, JSON body

Each POST gets the next queued `Recording` (status, headers, body); a stream is sent in chunked
encoding, one SSE event per chunk, the way the services send it. The fixtures in `fixtures/` are
the recordings' own files, unedited; `fixtures/MANIFEST.json` names each one's repo, path and commit
(see `fixtures/README.md`). `Recording(...)` can also be written inline for a shape no public
recording holds.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parent / "fixtures"
# Hop-by-hop and encoding headers of the recorded connection; this server frames its own body.
_NOT_REPLAYED = {"transfer-encoding", "content-encoding", "content-length", "connection", "set-cookie",
                 "keep-alive"}


@dataclass
class Recording:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    name: str = "inline"

    @property
    def is_stream(self) -> bool:
        return "event-stream" in self.headers.get("content-type", "")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def manifest() -> dict[str, dict[str, Any]]:
    return json.loads((FIXTURES / "MANIFEST.json").read_text())


def recorded(name: str, match: str = "/chat/completions", index: int = 0) -> Recording:
    """A fixture as a Recording: a vcrpy cassette's `index`-th interaction whose URI contains `match`,
    or a raw body file whose status and content type the manifest gives."""
    path = FIXTURES / name
    if name.endswith(".yaml"):
        cassette = yaml.safe_load(path.read_text(encoding="utf-8"))
        hits = [i for i in cassette["interactions"] if match in i["request"]["uri"]]
        response = hits[index]["response"]
        headers = {k.lower(): (v[0] if isinstance(v, list) else v) for k, v in response["headers"].items()}
        if "body" in response:                       # vcrpy's own format: the bytes as recorded
            body = response["body"]["string"]
            body = body.encode() if isinstance(body, str) else body
        else:                                        # pydantic-ai stores JSON bodies parsed
            body = json.dumps(response["parsed_body"]).encode()
        return Recording(response["status"]["code"], body, _replayed(headers), name)
    entry = manifest()[name]
    return Recording(entry["status"], path.read_bytes(), _replayed(entry.get("headers") or {}), name)


def _replayed(headers: dict[str, str]) -> dict[str, str]:
    return {k: str(v) for k, v in headers.items() if k not in _NOT_REPLAYED and v is not None}


class ReplayServer:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._queue: deque[Recording] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def play(self, *recordings: Recording) -> ReplayServer:
        with self._lock:
            self._queue.extend(recordings)
        return self

    def start(self) -> ReplayServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                with outer._lock:
                    outer.requests.append(Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                                               body))
                    recording = outer._queue.popleft() if outer._queue else None
                if recording is None:
                    recording = Recording(500, b'{"error": {"code": 500, "message": "nothing queued to replay"}}',
                                          {"content-type": "application/json"})
                outer._send(self, recording)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, recording: Recording) -> None:
        handler.send_response(recording.status)
        for name, value in recording.headers.items():
            handler.send_header(name, value)
        if not recording.is_stream:
            handler.send_header("content-length", str(len(recording.body)))
            handler.end_headers()
            handler.wfile.write(recording.body)
            return
        handler.send_header("transfer-encoding", "chunked")
        handler.end_headers()
        body, start = recording.body, 0
        while start < len(body):          # one event per chunk; the bytes themselves as recorded
            end = body.find(b"\n\n", start)
            end = len(body) if end < 0 else end + 2
            handler.wfile.write(f"{end - start:x}\r\n".encode() + body[start:end] + b"\r\n")
            handler.wfile.flush()
            start = end
        handler.wfile.write(b"0\r\n\r\n")
