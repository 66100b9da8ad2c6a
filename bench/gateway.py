"""Gateway overhead: one local OpenAI-compatible upstream called directly, through our gateway and through
LiteLLM's proxy, with the same httpx client code on every path.

    python bench/gateway.py --litellm-python /tmp/litellm-venv/bin/python     # 3 rounds (4-5 min)
    python bench/gateway.py --quick --litellm-python /tmp/litellm-venv/bin/python   # 1 short round (~1 min)
    python bench/gateway.py --no-litellm                                       # direct and gateway only

Processes (each its own, so no path shares a GIL with another or with the client):
* the upstream: tests/fake_openai.py's answers (JSON, or SSE ending in a usage chunk), served from one
  asyncio thread (`AsyncUpstream`, the default) or by fake_openai's own thread-per-connection http.server
  (`--upstream threads`, the server bench/router_overhead.py uses; it falls behind at 50 clients);
* our gateway: the real console, `streamlit run Home.py`, whose st.App routes serve /v1/chat/completions
  (core/app/gateway), configured through AGENTIC_CONFIG with one OpenAI-compatible provider at the
  upstream and called with a console access token created in its store before start (or the operator
  token, `--gateway-auth operator`). It records a usage row per request, as always;
* LiteLLM's proxy (`litellm[proxy]`, bench/requirements.txt) from its own venv (`--litellm-python`: it
  cannot live beside the app, which pins huggingface_hub 2), one model pointing at the upstream, a
  master key, no database (so it writes no spend rows: less work than our gateway), 1 worker like our
  single process (`--litellm-workers`);
* this process, the client: httpx.Client for the sequential runs, one httpx.AsyncClient per concurrent client
  for the load runs.

Measured per path: latency p50/p95 of sequential non-streaming requests (concurrency 1), time to the
first content chunk of sequential streams (TTFT), and requests/s with 10 and 50 concurrent clients.
"Added" is a path minus direct, from the same run; rounds are interleaved with a rotating path order and
each figure is the median of the round figures. Every answer is checked (text, status), every request
must reach the upstream exactly once, and our gateway's usage rows must equal its requests. The
server CPU per request (from /proc) and the load average are printed because the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEXT = "Hello from the bench server, friend."
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]
UPSTREAM_KEY = "upstream-bench-key"
LITELLM_MASTER = "sk-bench-master-key-0000"
WARMUP = 50
TARGET_ADDED_P50_MS = 1.0
TARGET_VS_LITELLM = 2.0
PATHS = {"direct": "direct to the upstream", "gateway": "Spaces OS gateway (streamlit run Home.py)",
         "litellm": "LiteLLM proxy"}


# ====================================================================== upstream process

def serve(kind: str) -> None:
    """The fake OpenAI upstream; stdin "count" → chat requests seen so far."""
    sys.path.insert(0, str(ROOT))
    if kind == "threads":
        from http.server import ThreadingHTTPServer

        from tests.fake_openai import FakeOpenAI, Reply

        ThreadingHTTPServer.request_queue_size = 1024   # socketserver's backlog of 5 drops SYNs under 50 clients
        server = FakeOpenAI().start()
        server.default = Reply(TEXT, tokens_in=14, tokens_out=9)
        url, seen = server.url, 0

        def count() -> int:
            nonlocal seen
            seen += len(server.requests)
            server.requests.clear()                  # keep memory flat over a long run
            return seen
    else:
        upstream = AsyncUpstream()
        url, count = upstream.start(), upstream.count
    print(json.dumps({"url": url}), flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(json.dumps({"count": count()}), flush=True)


class AsyncUpstream:
    """tests/fake_openai.py's answers (the same JSON body, the same SSE events with the usage chunk, built by its
    functions) from one asyncio thread instead of a thread per connection: with 50 clients, http.server's 50
    threads queue on the GIL and, on a loaded machine, its throughput fell below the gateways' (55-135 req/s).
    HTTP/1.1 keep-alive; streams are chunked, as OpenAI's are."""

    def __init__(self) -> None:
        self.seen = 0
        self._lock = __import__("threading").Lock()

    def count(self) -> int:
        with self._lock:
            return self.seen

    def start(self) -> str:
        import threading
        ready: dict[str, str] = {}
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            server = loop.run_until_complete(loop.create_server(lambda: _UpstreamProtocol(self), "127.0.0.1", 0,
                                                                backlog=1024))
            ready["url"] = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
            started.set()
            loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        started.wait()
        return ready["url"]

    def answer(self, method: str, path: str, body: bytes) -> list[bytes]:
        from tests.fake_openai import _chunk, _completion, _usage, split_words

        if method == "GET" and path.rstrip("/").endswith("/models"):
            return [_json_response({"object": "list", "data": [{"id": "bench-model"}]})]
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            return [_json_response({"error": {"code": 404, "message": "not found"}}, "404 Not Found")]
        request = json.loads(body or b"{}")
        with self._lock:
            self.seen += 1
        model = request.get("model")
        if not request.get("stream"):
            return [_json_response(_completion(TEXT, model, 14, 9, None))]
        events = [b": OPENROUTER PROCESSING\n\n"] + [_event(_chunk(piece, model)) for piece in split_words(TEXT)]
        events.append(_event({"id": "x", "object": "chat.completion.chunk", "model": model, "usage": _usage(14, 9, None),
                              "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        events.append(b"data: [DONE]\n\n")
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        return [head] + [b"%x\r\n%s\r\n" % (len(e), e) for e in events] + [b"0\r\n\r\n"]


def _event(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _json_response(payload: dict, status: str = "200 OK") -> bytes:
    data = json.dumps(payload).encode()
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n"
            .encode() + data)


class _UpstreamProtocol(asyncio.Protocol):
    """HTTP/1.1 with Content-Length bodies, keep-alive, pipelining-safe."""

    def __init__(self, upstream: AsyncUpstream):
        self.upstream, self.buffer = upstream, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            if "chunked" in headers.get("transfer-encoding", ""):
                self.transport.write(b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\n\r\n")
                self.transport.close()
                return
            size = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + size:
                return
            body, self.buffer = self.buffer[end + 4:end + 4 + size], self.buffer[end + 4 + size:]
            method, path = lines[0].split(" ")[:2]
            self.transport.writelines(self.upstream.answer(method, path, body))


# ====================================================================== servers under test

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, log: Path, what: str, limit: float = 120.0) -> None:
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url} in {limit:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen | None) -> None:
    """Stop a server this bench started (its own process group)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def start_gateway(upstream: str, tmp: Path, auth: str) -> tuple[subprocess.Popen, str, str, Path]:
    """The console on a free port; returns (process, base URL, bearer, db path)."""
    sys.path.insert(0, str(ROOT))
    from core.app.gateway.tokens import TokenService, TokenSpec
    from core.store import Store

    config, db, log = tmp / "agentic-config.yaml", tmp / "gateway.db", tmp / "gateway.log"
    config.write_text(f"local:\n  url: {upstream}\n  api_key: {UPSTREAM_KEY}\n  models: [bench-model]\n")
    env = {**os.environ, "SPACES_OS_DB": str(db), "AGENTIC_CONFIG": str(config), "HF_TOKEN": "",
           "OPENROUTER_API_KEY": "", "OPENROUTER_KEY": ""}
    if auth == "operator":
        bearer = env["SPACES_OS_OPERATOR_TOKEN"] = "bench-operator-token-0000000000"
    else:
        store = Store(str(db))
        bearer = TokenService(store).create(TokenSpec("bench", ("chat",), expires_in_days=1)).token
        store.close()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true", "--server.port",
         str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base + "/healthz", proc, log, "streamlit run Home.py")
    return proc, base, bearer, db


def start_litellm(python: str, upstream: str, tmp: Path, workers: int) -> tuple[subprocess.Popen, str]:
    config, log = tmp / "litellm.yaml", tmp / "litellm.log"
    config.write_text(
        "model_list:\n"
        "  - model_name: bench-model\n"
        "    litellm_params:\n"
        "      model: openai/bench-model\n"
        f"      api_base: {upstream}\n"
        f"      api_key: {UPSTREAM_KEY}\n"
        "      input_cost_per_token: 1.5e-07\n"      # prices given, as for our router, so no lookup fails
        "      output_cost_per_token: 6.0e-07\n"
        "general_settings:\n"
        f"  master_key: {LITELLM_MASTER}\n")
    port = free_port()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True",   # else it tries to download the price map
           "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [python, "-c", "import sys; from litellm.proxy.proxy_cli import run_server; sys.exit(run_server())",
         "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", str(workers)],
        cwd=tmp, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base + "/health/liveliness", proc, log, "litellm proxy")
    return proc, base


def has_litellm(python: str) -> bool:
    probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('litellm.proxy') else 1)"
    try:
        return subprocess.run([python, "-c", probe], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and every live descendant, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += int(stats[p][11]) + int(stats[p][12])
        todo.extend(children.get(p, []))
    return total / ticks


def load() -> float:
    return os.getloadavg()[0]


# ====================================================================== the client

class Target:
    def __init__(self, name: str, base: str, bearer: str, model: str, pid: int | None):
        self.name, self.pid = name, pid
        self.url = base + "/v1/chat/completions"
        self.headers = {"Authorization": f"Bearer {bearer}"}
        self.body = {"model": model, "messages": MESSAGES}
        self.stream_body = {**self.body, "stream": True, "stream_options": {"include_usage": True}}
        self.client = httpx.Client(timeout=30)
        self.sent = 0           # requests this bench sent to the path (upstream calls must match)

    def call(self) -> None:
        r = self.client.post(self.url, json=self.body, headers=self.headers)
        self.sent += 1
        check(self.name, r.status_code, r.content)

    def stream(self) -> tuple[int, int]:
        """One stream: (ns to the first content chunk, ns to the end)."""
        start = time.perf_counter_ns()
        first, text = 0, []
        with self.client.stream("POST", self.url, json=self.stream_body, headers=self.headers) as r:
            self.sent += 1
            if r.status_code != 200:
                raise RuntimeError(f"{self.name}: stream HTTP {r.status_code}: {r.read()[:300]!r}")
            for line in r.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    raise RuntimeError(f"{self.name}: error chunk {chunk}")
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        first = first or time.perf_counter_ns() - start
                        text.append(piece)
        if "".join(text) != TEXT:
            raise RuntimeError(f"{self.name}: stream text {''.join(text)!r}")
        return first, time.perf_counter_ns() - start


def check(name: str, status: int, content: bytes) -> None:
    if status != 200:
        raise RuntimeError(f"{name}: HTTP {status}: {content[:300]!r}")
    answer = json.loads(content)["choices"][0]["message"]["content"]
    if answer != TEXT:
        raise RuntimeError(f"{name}: answer {answer!r}")


def sequential(target: Target, n: int) -> list[int]:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        start = clock()
        target.call()
        samples.append(clock() - start)
    return samples


async def _load(target: Target, concurrency: int, seconds: float) -> dict[str, Any]:
    """`concurrency` clients sending back to back for `seconds`. Each has its own AsyncClient and connection:
    one shared pool of 50 connections cost httpx a whole core at ~250 req/s (its pool scans every connection)."""
    latencies: list[int] = []
    errors: list[str] = []
    clients = [httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
               for _ in range(concurrency)]

    async def one(client: httpx.AsyncClient) -> None:
        start = time.perf_counter_ns()
        try:
            r = await client.post(target.url, json=target.body, headers=target.headers)
            check(target.name, r.status_code, r.content)
            latencies.append(time.perf_counter_ns() - start)
        except Exception as exc:            # counted and reported: a failed request is no throughput
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
        target.sent += 1

    async def worker(client: httpx.AsyncClient, until: float) -> None:
        while time.perf_counter() < until:
            await one(client)

    try:
        await asyncio.gather(*(one(c) for c in clients))          # open the connections
        latencies.clear()
        cpu0 = cpu_seconds(target.pid) if target.pid else 0.0
        client_cpu0, began = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(c, began + seconds) for c in clients))
        elapsed, client_cpu = time.perf_counter() - began, time.process_time() - client_cpu0
        server_cpu = (cpu_seconds(target.pid) - cpu0) if target.pid else None
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    done = len(latencies)
    return {"rps": done / elapsed, "done": done, "errors": len(errors), "first_error": errors[0] if errors else None,
            "p50_ms": pct(latencies, 0.5) / 1e6 if latencies else None,
            "p95_ms": pct(latencies, 0.95) / 1e6 if latencies else None,
            "server_cpu_us": server_cpu / done * 1e6 if server_cpu is not None and done else None,
            "client_cpu": client_cpu / elapsed}


def pct(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def med(xs: list[float]) -> float:
    return statistics.median(xs)


# ====================================================================== the run

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="sequential requests per path and round (default 1000)")
    ap.add_argument("--streams", type=int, default=300, help="sequential streams per path and round")
    ap.add_argument("--seconds", type=float, default=10.0, help="load run per path, concurrency and round")
    ap.add_argument("--concurrency", default="10,50")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 round, n=200, 100 streams, 4 s load runs")
    ap.add_argument("--litellm-python", default=os.environ.get("BENCH_LITELLM_PYTHON", "/tmp/litellm-venv/bin/python"),
                    help="interpreter with litellm[proxy] (default /tmp/litellm-venv/bin/python or "
                         "$BENCH_LITELLM_PYTHON)")
    ap.add_argument("--litellm-workers", type=int, default=1)
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument("--gateway-auth", choices=("token", "operator"), default="token",
                    help="console access token from the store (default) or SPACES_OS_OPERATOR_TOKEN")
    ap.add_argument("--upstream", choices=("asyncio", "threads"), default="asyncio",
                    help="asyncio: fake_openai's answers from one asyncio thread (default); threads: "
                         "tests/fake_openai.py's own http.server, a thread per connection")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if args.quick:
        args.rounds, args.n, args.streams, args.seconds = 1, 200, 100, 4.0
    return run(args)


def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    levels = [int(c) for c in args.concurrency.split(",")]
    use_litellm = not args.no_litellm and has_litellm(args.litellm_python)
    print(f"# gateway bench — python {platform.python_version()}, {os.cpu_count()} cores, "
          f"{args.rounds} rounds × (n={args.n} sequential, {args.streams} streams, {args.seconds:.0f} s at each of "
          f"{levels} clients), load average {load():.2f}", flush=True)
    if not use_litellm and not args.no_litellm:
        print(f"litellm not found for {args.litellm_python}: skipped (see bench/requirements.txt)", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    upstream = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", args.upstream], cwd=ROOT,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    gateway = litellm = None
    try:
        upstream_url = json.loads(upstream.stdout.readline())["url"]

        def upstream_count() -> int:
            upstream.stdin.write("count\n")
            upstream.stdin.flush()
            return json.loads(upstream.stdout.readline())["count"]

        gateway, gateway_base, bearer, db = start_gateway(upstream_url, tmp, args.gateway_auth)
        targets = {"direct": Target("direct", upstream_url.removesuffix("/v1"), UPSTREAM_KEY, "bench-model",
                                    upstream.pid),
                   "gateway": Target("gateway", gateway_base, bearer, "local/bench-model", gateway.pid)}
        if use_litellm:
            litellm, litellm_base = start_litellm(args.litellm_python, upstream_url, tmp, args.litellm_workers)
            targets["litellm"] = Target("litellm", litellm_base, LITELLM_MASTER, "bench-model", litellm.pid)
        versions = {"litellm": subprocess.run([args.litellm_python, "-c", "import importlib.metadata as m; "
                                               "print(m.version('litellm'))"], capture_output=True,
                                              text=True).stdout.strip()} if use_litellm else {}
        print(f"# upstream {upstream_url}; gateway {gateway_base} ({args.gateway_auth} auth); "
              + (f"litellm {versions['litellm']} proxy, {args.litellm_workers} worker(s)" if use_litellm else ""),
              flush=True)

        paths = list(targets)
        missing = 0
        upstream_count()
        for t in targets.values():              # warm-up: imports, connections, caches
            sequential(t, WARMUP)
            for _ in range(10):
                t.stream()
        for t in targets.values():
            missing += t.sent
            t.sent = 0
        missing -= upstream_count()
        if missing:
            raise RuntimeError(f"warm-up: {missing} requests never reached the upstream")

        lat: dict[str, list[list[int]]] = {p: [] for p in paths}
        ttft: dict[str, list[list[int]]] = {p: [] for p in paths}
        total: dict[str, list[list[int]]] = {p: [] for p in paths}
        seq_cpu: dict[str, list[float]] = {p: [] for p in paths}
        loads: dict[int, dict[str, list[dict]]] = {c: {p: [] for p in paths} for c in levels}
        upstream_calls = {p: 0 for p in paths}
        round_loads = []

        def counted(path: str, fn, *a):
            """fn(*a), counting the upstream requests it caused against `path`."""
            before = upstream_count()
            out = fn(*a)
            upstream_calls[path] += upstream_count() - before
            return out

        def streams(t: Target, n: int) -> list[tuple[int, int]]:
            return [t.stream() for _ in range(n)]

        for r in range(args.rounds):
            order = paths[r % len(paths):] + paths[:r % len(paths)]
            for p in order:
                t = targets[p]
                cpu0 = cpu_seconds(t.pid)
                lat[p].append(counted(p, sequential, t, args.n))
                seq_cpu[p].append((cpu_seconds(t.pid) - cpu0) / args.n * 1e6)
                pairs = counted(p, streams, t, args.streams)
                ttft[p].append([a for a, _ in pairs])
                total[p].append([b for _, b in pairs])
            for c in levels:
                for p in order:
                    loads[c][p].append(counted(p, asyncio.run, _load(targets[p], c, args.seconds)))
            round_loads.append(load())
            print(f"  round {r + 1}/{args.rounds}: p50 " + ", ".join(
                f"{p} {med(lat[p][-1]) / 1e6:.3f} ms" for p in paths) + "; req/s at "
                + "; ".join(f"{c}: " + ", ".join(f"{p} {loads[c][p][-1]['rps']:.0f}" for p in paths) for c in levels)
                + f" (load {round_loads[-1]:.2f})", flush=True)

        # ---------------------------------------------------------------- checks: same work on every path
        for p, t in targets.items():
            if upstream_calls[p] != t.sent:
                raise RuntimeError(f"{p}: sent {t.sent} requests, the upstream saw {upstream_calls[p]}")
        errors = {p: sum(x["errors"] for c in levels for x in loads[c][p]) for p in paths}
        rows = usage_rows(db, expected=targets["gateway"].sent + WARMUP + 10)

        # ---------------------------------------------------------------- figures
        res: dict[str, dict[str, Any]] = {}
        for p in paths:
            res[p] = {
                "p50_ms": med([med(x) for x in lat[p]]) / 1e6, "p95_ms": med([pct(x, 0.95) for x in lat[p]]) / 1e6,
                "ttft_ms": med([med(x) for x in ttft[p]]) / 1e6, "stream_ms": med([med(x) for x in total[p]]) / 1e6,
                "cpu_us_seq": med(seq_cpu[p]),
                **{f"rps_{c}": med([x["rps"] for x in loads[c][p]]) for c in levels},
                **{f"p95_{c}_ms": med([x["p95_ms"] for x in loads[c][p]]) for c in levels},
                **{f"cpu_us_{c}": med([x["server_cpu_us"] for x in loads[c][p]]) for c in levels},
                **{f"client_cpu_{c}": med([x["client_cpu"] for x in loads[c][p]]) for c in levels},
            }
        d = res["direct"]
        print(f"\n## Concurrency 1: {args.n} sequential requests and {args.streams} streams per path × "
              f"{args.rounds} rounds (median of round figures)\n")
        print("| path | p50 ms | p95 ms | added p50 ms | added p95 ms | TTFT p50 ms | added TTFT ms "
              "| stream end p50 ms | server CPU µs/request |")
        print("|---|---|---|---|---|---|---|---|---|")
        for p in paths:
            s = res[p]
            s["added_p50_ms"], s["added_p95_ms"] = s["p50_ms"] - d["p50_ms"], s["p95_ms"] - d["p95_ms"]
            s["added_ttft_ms"] = s["ttft_ms"] - d["ttft_ms"]
            print(f"| {PATHS[p]} | {s['p50_ms']:.3f} | {s['p95_ms']:.3f} | {s['added_p50_ms']:+.3f} | "
                  f"{s['added_p95_ms']:+.3f} | {s['ttft_ms']:.3f} | {s['added_ttft_ms']:+.3f} | {s['stream_ms']:.3f} | "
                  f"{s['cpu_us_seq']:.0f} |")
        print(f"\n## Throughput: {args.seconds:.0f} s per path, concurrency and round (median of rounds)\n")
        print("| path | " + " | ".join(f"req/s at {c} | × direct | p95 ms at {c} | server CPU µs/req at {c}"
                                       for c in levels) + " | errors |")
        print("|---|" + "---|---|---|---|" * len(levels) + "---|")
        for p in paths:
            s = res[p]
            print(f"| {PATHS[p]} | " + " | ".join(
                f"{s[f'rps_{c}']:.0f} | {s[f'rps_{c}'] / d[f'rps_{c}']:.2f} | {s[f'p95_{c}_ms']:.1f} | "
                f"{s[f'cpu_us_{c}']:.0f}" for c in levels) + f" | {errors[p]} |")
        print("client CPU share during the load runs (1.0 = one core): " + "; ".join(
            f"{p} " + "/".join(f"{res[p][f'client_cpu_{c}']:.2f}" for c in levels) for p in paths))

        g = res["gateway"]
        verdict = "MET" if g["added_p50_ms"] <= TARGET_ADDED_P50_MS else "MISSED"
        print(f"\ntarget: added p50 ≤ {TARGET_ADDED_P50_MS:.1f} ms at concurrency 1: gateway "
              f"{g['added_p50_ms']:+.3f} ms → {verdict}")
        top = max(levels)
        if "litellm" in res:
            ratio = g[f"rps_{top}"] / res["litellm"][f"rps_{top}"]
            print(f"target: throughput at {top} ≥ {TARGET_VS_LITELLM:.0f}× LiteLLM's proxy: "
                  f"{g[f'rps_{top}']:.0f} / {res['litellm'][f'rps_{top}']:.0f} req/s = {ratio:.2f}× → "
                  f"{'MET' if ratio >= TARGET_VS_LITELLM else 'MISSED'}")
            print(f"LiteLLM added p50 {res['litellm']['added_p50_ms']:+.3f} ms; gateway/LiteLLM added p50 "
                  f"{g['added_p50_ms'] / res['litellm']['added_p50_ms']:.2f}×")
        print(f"same work: every request reached the upstream once ({', '.join(f'{p} {t.sent}' for p, t in targets.items())}); "
              f"gateway usage rows {rows} = gateway requests {targets['gateway'].sent + WARMUP + 10} (with warm-up); "
              f"load errors {errors}")
        print(f"load average per round: {', '.join(f'{x:.2f}' for x in round_loads)}")
        if args.json:
            Path(args.json).write_text(json.dumps({
                "python": platform.python_version(), "cores": os.cpu_count(), "args": vars(args),
                "versions": versions, "results": res, "errors": errors, "usage_rows": rows,
                "load_per_round": round_loads}, indent=2))
        print(f"\n# done in {time.perf_counter() - began:.0f} s, load average {load():.2f}", flush=True)
        return 0
    finally:
        stop(litellm)
        stop(gateway)
        if upstream.poll() is None:
            upstream.stdin.close()
            try:
                upstream.wait(timeout=10)
            except subprocess.TimeoutExpired:
                upstream.kill()


def usage_rows(db: Path, expected: int, limit: float = 10.0) -> int:
    """The gateway's usage rows, once its background writer has caught up (or after `limit` s)."""
    from core.store import Store
    store = Store(str(db))
    try:
        deadline = time.time() + limit
        while (rows := store.usage_count()) < expected and time.time() < deadline:
            time.sleep(0.2)
        return rows
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
