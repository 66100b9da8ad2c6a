"""Router overhead: the same sequential chat requests through bare httpx, our Router and LiteLLM.

    python bench/router_overhead.py                    # N=2000 per path and round, 3 rounds, failover (~2.5 min)
    python bench/router_overhead.py --quick            # N=200, 1 round: a smoke test (~3 s, ~20 s with LiteLLM)
    python bench/router_overhead.py --litellm-python /tmp/litellm-venv/bin/python
    python bench/router_overhead.py --profile          # also cProfile our router's hot path

Every client path runs in its own worker process, so no path shares a GIL, a heap or background
threads with another (LiteLLM starts threads and holds ~190 MB; our router has its usage writer).
The OpenAI-compatible server (tests/fake_openai.py) runs in one more process, with two ports: `ok`
answers 200 with usage, `fail` answers 503. Rounds are interleaved with a rotating path order, and
each figure is the median of the per-round figures.

Two baselines: `httpx.Client.post`, what the issue names and what a hand-written call looks like,
and a request sent straight on `httpx.HTTPTransport`, which is the HTTP layer our providers use. The
first ratio is what a user gains or pays for using the router; the second is the router's own work
(planning, breakers, usage rows, result objects) over the same HTTP layer.

LiteLLM cannot be installed next to the app (every release needs huggingface_hub<2, the app pins
2.4.0), so it lives in its own venv and `--litellm-python` points at that interpreter; see
bench/requirements.txt. Without it the LiteLLM rows print "litellm not installed: skipped".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]
PRICE_IN, PRICE_OUT = 0.15e-6, 0.60e-6     # USD per token given to LiteLLM so it skips its slow lookup
WARMUP = 50
TARGET = 1.10

# path → label; each path runs in a worker process of its own
PATHS = {
    "httpx": "bare httpx.Client",
    "transport": "bare httpx.HTTPTransport (the router's HTTP layer)",
    "router": "Spaces OS Router.chat",
    "litellm": "litellm.completion",
    "litellm_router": "litellm.Router.completion",
}
LITELLM_PATHS = ("litellm", "litellm_router")

# failover config → (label, worker path, slow: capped to --slow-n requests per round)
FAILOVER = {
    "httpx_manual": ("bare httpx: POST A, on 5xx POST B", "httpx", False),
    "router_default": ("Spaces OS router, default settings (max_retries 2, cooldown after 3 fails, 30 s)",
                       "router", False),
    "router_retries0": ("Spaces OS router, max_retries 0", "router", False),
    "router_nocooldown": ("Spaces OS router, max_retries 0, no cooldown (A tried every request)",
                          "router", False),
    "litellm_default": ("litellm.Router fallbacks, defaults", "litellm_router", True),
    "litellm_tuned": ("litellm.Router, num_retries=0 allowed_fails=1 cooldown_time=5", "litellm_router", False),
    "litellm_nocooldown": ("litellm.Router, num_retries=0 disable_cooldowns=True (A tried every request)",
                           "litellm_router", False),
}


# ====================================================================== server process

def serve() -> None:
    """Two fake OpenAI servers (200 and 503) in this process; stdin "count" → requests seen per port."""
    import socketserver

    sys.path.insert(0, str(ROOT))
    from tests.fake_openai import FakeOpenAI, Reply, Status

    # http.server writes headers and body as two segments; with Nagle on, the body waits for the
    # client's delayed ACK and every request takes ~40 ms instead of ~0.5 ms.
    socketserver.StreamRequestHandler.disable_nagle_algorithm = True
    ok, fail = FakeOpenAI().start(), FakeOpenAI().start()
    ok.default = Reply("Hello from the bench server, friend.", tokens_in=14, tokens_out=9)
    fail.default = Status(503, "overloaded")
    print(json.dumps({"ok": ok.url, "fail": fail.url}), flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(json.dumps({"ok": len(ok.requests), "fail": len(fail.requests)}), flush=True)
    ok.stop()
    fail.stop()


# ====================================================================== worker processes

Makers = dict[str, Callable[[], Callable[[], Any]]]    # name → build it (untimed) → one request (timed)


def _httpx_calls(ok: str, fail: str) -> Makers:
    import httpx

    body = {"model": "m", "messages": MESSAGES, "stream": False}
    headers = {"Authorization": "Bearer k"}
    ok_url, fail_url = ok + "/chat/completions", fail + "/chat/completions"
    client = httpx.Client()

    def call() -> str:
        response = client.post(ok_url, json=body, headers=headers)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    def manual_failover() -> Callable[[], str]:
        fresh = httpx.Client()      # like the routers: a new client per round, its connections opened in-run

        def call() -> str:
            response = fresh.post(fail_url, json=body, headers=headers)
            if response.status_code >= 500:
                response = fresh.post(ok_url, json=body, headers=headers)
            response.raise_for_status()
            return response.json()["choices"][0]["message"]["content"]
        return call

    transport = httpx.HTTPTransport()
    target = httpx.URL(ok_url)
    timeout = {"timeout": httpx.Timeout(5.0).as_dict()}

    def transport_call() -> str:
        """What our providers do: a request straight on httpx's transport, no Client around it."""
        response = transport.handle_request(httpx.Request("POST", target, json=body, headers=headers,
                                                          extensions=timeout))
        try:
            response.read()
        finally:
            response.close()
        if response.status_code >= 400:
            raise RuntimeError(f"HTTP {response.status_code}")
        return json.loads(response.content)["choices"][0]["message"]["content"]

    return {"httpx": lambda: call, "transport": lambda: transport_call, "httpx_manual": manual_failover}


def _router_calls(ok: str, fail: str) -> Makers:
    sys.path.insert(0, str(ROOT))
    from core.llm.router import Router

    tmp = tempfile.mkdtemp(prefix="bench-router-")
    built: list[Router] = []

    def make(config: dict) -> Callable[[], str]:
        router = Router.from_config(config, db=os.path.join(tmp, f"usage{len(built)}.db"))
        built.append(router)
        return lambda: router.chat(MESSAGES).text

    def pair(settings: dict) -> dict:
        return {"a": {"url": fail, "api_key": "k", "models": ["m"]},
                "b": {"url": ok, "api_key": "k", "models": ["m"]}, "router": settings}

    def usage() -> dict:
        for router in built:
            router.store.flush()
        return {"rows": sum(r.store.usage_count() for r in built),
                "write_errors": sum(len(r.store.write_errors) for r in built)}

    def sections(n: int) -> str:
        """Where a request's time goes without profiler inflation: this thread's CPU before, inside and
        after provider.chat, and the CPU other threads (the usage writer) spend per request."""
        router = built[0]
        provider = router.providers["local"]
        inner = provider.chat
        clock = time.thread_time_ns
        marks = [0, 0]

        def timed_chat(*args: Any) -> Any:
            marks[0] = clock()
            try:
                return inner(*args)
            finally:
                marks[1] = clock()

        provider.chat = timed_chat      # an instance attribute: the class is untouched
        before, within, after = [], [], []
        process0, thread0 = time.process_time_ns(), clock()
        try:
            for _ in range(n):
                start = clock()
                router.chat(MESSAGES)
                end = clock()
                before.append(marks[0] - start)
                within.append(marks[1] - marks[0])
                after.append(end - marks[1])
        finally:
            del provider.chat
        others = ((time.process_time_ns() - process0) - (clock() - thread0)) / n / 1e3

        def mean(xs: list[int]) -> float:
            return statistics.fmean(xs) / 1e3
        return (f"CPU per request, {n} calls (mean µs, this thread): Router.chat before provider.chat "
                f"{mean(before):.1f} | provider.chat (HTTP included) {mean(within):.1f} | after {mean(after):.1f}"
                f"\nCPU per request in other threads (the usage writer): {others:.1f} µs")

    main = make({"local": {"url": ok, "api_key": "k", "models": ["m"]}})
    return {
        "sections": lambda: sections,
        "router": lambda: main,
        "router_default": lambda: make(pair({})),
        "router_retries0": lambda: make(pair({"max_retries": 0})),
        "router_nocooldown": lambda: make(pair({"max_retries": 0, "cooldown_after": 10**9})),
        "usage": lambda: usage,
    }


def _litellm_calls(ok: str, fail: str) -> Makers:
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"   # else import blocks 5 s on a price-map download
    import litellm

    litellm.suppress_debug_info = True
    params = {"model": "openai/m", "api_base": ok, "api_key": "k",
              "input_cost_per_token": PRICE_IN, "output_cost_per_token": PRICE_OUT}

    def call() -> str:
        return litellm.completion(messages=MESSAGES, **params).choices[0].message.content

    def deployment(name: str, base: str) -> dict:
        return {"model_name": name, "litellm_params": {**params, "api_base": base}}

    def make(model_list: list, group: str, **settings) -> Callable[[], str]:
        router = litellm.Router(model_list=model_list, **settings)
        return lambda: router.completion(model=group, messages=MESSAGES).choices[0].message.content

    pair = [deployment("a", fail), deployment("b", ok)]
    fallbacks = [{"a": ["b"]}]
    return {
        "litellm": lambda: call,
        "litellm_router": lambda: make([deployment("m", ok)], "m"),
        "litellm_default": lambda: make(pair, "a", fallbacks=fallbacks),
        "litellm_tuned": lambda: make(pair, "a", fallbacks=fallbacks, num_retries=0, allowed_fails=1,
                                      cooldown_time=5),
        "litellm_nocooldown": lambda: make(pair, "a", fallbacks=fallbacks, num_retries=0,
                                           disable_cooldowns=True),
    }


WORKERS = {"httpx": _httpx_calls, "transport": _httpx_calls, "router": _router_calls, "litellm": _litellm_calls,
           "litellm_router": _litellm_calls}


def _time(call: Callable[[], Any], n: int) -> tuple[list[int], int]:
    """n sequential calls: per-call nanoseconds and how many raised."""
    clock = time.perf_counter_ns
    samples, errors = [], 0
    for _ in range(n):
        start = clock()
        try:
            call()
        except Exception:
            errors += 1
        samples.append(clock() - start)
    return samples, errors


def _settle(limit: float = 10.0) -> float:
    """Wait until no thread of this process uses CPU any more (LiteLLM keeps logging in background
    threads after a call returns), so that work does not land in the next path's round. Seconds waited."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        cpu = time.process_time()
        time.sleep(0.05)
        if time.process_time() - cpu < 0.001:
            break
    return time.perf_counter() - start


def _profile(call: Callable[[], Any], n: int) -> str:
    """cProfile n calls; per-request µs by own time, and by cumulative time for core/ functions."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler).stats   # type: ignore[attr-defined]

    def name(key: tuple) -> str:
        path, line, func = key
        path = path.replace(str(ROOT) + os.sep, "")
        if "site-packages" in path:
            path = path.split("site-packages" + os.sep, 1)[1]
        elif path.startswith(sys.prefix) or path.startswith(getattr(sys, "base_prefix", "")):
            path = "stdlib/" + Path(path).name
        return f"{path}:{line}({func})" if line else func

    rows = [(name(k), v[1] / n, v[2] / n * 1e6, v[3] / n * 1e6) for k, v in stats.items()]
    total = sum(r[2] for r in rows)
    out = [f"cProfile of {n} calls; profiled total {total:.0f} µs/request (profiling inflates this)",
           "", "by own time (top 30):", f"{'calls/req':>9} {'own µs':>8} {'cum µs':>8}  function"]
    for r in sorted(rows, key=lambda r: -r[2])[:30]:
        out.append(f"{r[1]:9.1f} {r[2]:8.1f} {r[3]:8.1f}  {r[0]}")
    out += ["", "our code by cumulative time:", f"{'calls/req':>9} {'own µs':>8} {'cum µs':>8}  function"]
    for r in sorted((r for r in rows if r[0].startswith("core/")), key=lambda r: -r[3])[:25]:
        out.append(f"{r[1]:9.1f} {r[2]:8.1f} {r[3]:8.1f}  {r[0]}")
    return "\n".join(out)


def work(path: str, ok: str, fail: str) -> None:
    """A worker: set up one path, warm up, then answer JSON commands on stdin."""
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                       # anything a library prints goes to stderr, not into the protocol

    def reply(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    try:
        makers = WORKERS[path](ok, fail)
        call = makers[path]()
        _time(call, WARMUP)
        call()
        _settle()
    except Exception:
        reply({"error": traceback.format_exc()})
        return
    reply({"ready": True, "version": _version(path)})
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "run":
                samples, errors = _time(call, cmd["n"])
                reply({"samples": samples, "errors": errors, "settle_s": _settle()})
            elif cmd["cmd"] == "failover":
                samples, errors = _time(makers[cmd["config"]](), cmd["n"])
                reply({"samples": samples, "errors": errors, "settle_s": _settle()})
            elif cmd["cmd"] == "profile":
                reply({"text": makers["sections"]()(cmd["n"]) + "\n\n" + _profile(call, cmd["n"])})
            elif cmd["cmd"] == "usage":     # router only: rows its usage writer stored
                reply(makers["usage"]()())
            elif cmd["cmd"] == "quit":
                reply({"bye": True})
                return
        except Exception:
            reply({"error": traceback.format_exc()})


def _version(path: str) -> str:
    from importlib.metadata import version
    if path.startswith("litellm"):
        return f"litellm {version('litellm')}, httpx {version('httpx')}"
    return f"httpx {version('httpx')}"


# ====================================================================== orchestrator

class Worker:
    def __init__(self, path: str, python: str, ok: str, fail: str, log: Path):
        self.path = path
        self._log = log
        self.proc = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "--worker", path, "--ok", ok, "--fail", fail],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"), text=True, cwd=ROOT)
        self.version = ""

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.path} died:\n{self._log.read_text()[-3000:]}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"worker {self.path} failed:\n{answer['error']}")
        return answer

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask(cmd="quit")
                self.proc.wait(timeout=10)
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()


def has_litellm(python: str) -> bool:
    probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('litellm') else 1)"
    try:
        return subprocess.run([python, "-c", probe], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def load() -> str:
    """The 1-minute load average: on a shared 2-core machine, anything above ~2 means noisy figures."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "n/a"


def ms(ns: float) -> float:
    return ns / 1e6


def pct(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(rounds: list[list[int]]) -> dict:
    """Median of round medians and of round p95s, in ms."""
    return {"median_ms": ms(statistics.median(statistics.median(r) for r in rounds)),
            "p95_ms": ms(statistics.median(pct(r, 0.95) for r in rounds)),
            "n": sum(len(r) for r in rounds)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="timed requests per path per round (default 2000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--failover-n", type=int, default=200, help="failover requests per config, all rounds")
    ap.add_argument("--slow-n", type=int, default=1,
                    help="failover requests per round for LiteLLM defaults (each takes seconds)")
    ap.add_argument("--quick", action="store_true", help="N=200, one round, short failover: a smoke test")
    ap.add_argument("--litellm-python", default=os.environ.get("BENCH_LITELLM_PYTHON", sys.executable),
                    help="interpreter that has litellm installed (default: this one, or $BENCH_LITELLM_PYTHON)")
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument("--no-failover", action="store_true")
    ap.add_argument("--profile", action="store_true", help="also cProfile our router's hot path")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--ok", help=argparse.SUPPRESS)
    ap.add_argument("--fail", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.serve:
        serve()
        return 0
    if args.worker:
        work(args.worker, args.ok, args.fail)
        return 0
    if args.quick:
        args.n, args.rounds, args.failover_n, args.slow_n = 200, 1, 40, 1
    return run_bench(args)


def run_bench(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    litellm_ok = not args.no_litellm and has_litellm(args.litellm_python)
    print(f"# router overhead — python {platform.python_version()}, {os.cpu_count()} cores, "
          f"N={args.n} × {args.rounds} rounds (+{WARMUP} warm-up per path), load average {load()}", flush=True)
    if not litellm_ok:
        print("litellm not installed: skipped" + ("" if args.no_litellm else
              f" (no litellm for {args.litellm_python}; see bench/requirements.txt, --litellm-python)"),
              flush=True)

    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve"], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    workers: dict[str, Worker] = {}
    try:
        urls = json.loads(server.stdout.readline())

        def counts() -> dict:
            server.stdin.write("count\n")
            server.stdin.flush()
            return json.loads(server.stdout.readline())

        paths = [p for p in PATHS if litellm_ok or p not in LITELLM_PATHS]
        for p in paths:
            python = args.litellm_python if p in LITELLM_PATHS else sys.executable
            workers[p] = Worker(p, python, urls["ok"], urls["fail"], logs / f"{p}.log")
        for w in workers.values():
            w.version = w.read()["version"]
        print("# " + "; ".join(f"{p}: {w.version}" for p, w in workers.items()), flush=True)

        samples: dict[str, list[list[int]]] = {p: [] for p in paths}
        settle: dict[str, list[float]] = {p: [] for p in paths}
        for r in range(args.rounds):
            for p in paths[r % len(paths):] + paths[:r % len(paths)]:
                answer = workers[p].ask(cmd="run", n=args.n)
                if answer["errors"]:
                    raise RuntimeError(f"{p}: {answer['errors']} of {args.n} requests failed")
                samples[p].append(answer["samples"])
                settle[p].append(answer["settle_s"])
            print(f"  round {r + 1}/{args.rounds}: " + ", ".join(
                f"{p} {ms(statistics.median(samples[p][-1])):.3f} ms" for p in paths)
                + f" (load {load()})", flush=True)
        usage = workers["router"].ask(cmd="usage")

        results = {p: summarise(samples[p]) for p in paths}
        base = results["httpx"]
        print(f"\n## Per request, {args.n} sequential non-streaming requests × {args.rounds} rounds "
              "(median of round figures)\n")
        layer = results["transport"]
        print("| path | median ms | p95 ms | × httpx (median) | × httpx (p95) | overhead µs (median) "
              "| × transport (median) |")
        print("|---|---|---|---|---|---|---|")
        for p in paths:
            s = results[p]
            s["ratio"] = s["median_ms"] / base["median_ms"]
            s["ratio_p95"] = s["p95_ms"] / base["p95_ms"]
            s["overhead_us"] = (s["median_ms"] - base["median_ms"]) * 1000
            s["ratio_transport"] = s["median_ms"] / layer["median_ms"]
            print(f"| {PATHS[p]} | {s['median_ms']:.3f} | {s['p95_ms']:.3f} | {s['ratio']:.2f} | "
                  f"{s['ratio_p95']:.2f} | {s['overhead_us']:.0f} | {s['ratio_transport']:.2f} |")
        ours = results["router"]["ratio"]
        verdict = "MET" if ours <= TARGET else "MISSED"
        if litellm_ok:
            lowest = min(results[p]["ratio"] for p in LITELLM_PATHS)
            verdict += "; below LiteLLM" if ours < lowest else "; NOT below LiteLLM"
        print(f"\ntarget ≤ {TARGET:.2f}× bare httpx: {ours:.2f}× → {verdict}")
        own = results["router"]["ratio_transport"]
        print(f"router over the same transport call written by hand: {own:.2f}× "
              f"(+{(results['router']['median_ms'] - layer['median_ms']) * 1000:.0f} µs: the router's own work)")
        print("background CPU after a round (s until the worker went idle): " + ", ".join(
            f"{p} {max(settle[p]):.2f}" for p in paths))
        print(f"usage rows written by our router's background writer: {usage['rows']} "
              f"(write errors: {usage['write_errors']})")
        if not litellm_ok:
            print("litellm not installed: skipped")

        failover = {}
        if not args.no_failover:
            failover = run_failover(args, workers, counts)

        profile = None
        if args.profile or ours > TARGET or own > TARGET:
            n = min(args.n, 2000)
            profile = workers["router"].ask(cmd="profile", n=n)["text"]
            print(f"\n## Profile of Router.chat ({'asked' if args.profile else 'over target'})\n")
            print(profile)

        if args.json:
            Path(args.json).write_text(json.dumps({
                "python": platform.python_version(), "cores": os.cpu_count(), "n": args.n,
                "rounds": args.rounds, "versions": {p: w.version for p, w in workers.items()},
                "per_request": results, "failover": failover, "profile": profile}, indent=2))
        print(f"\n# done in {time.perf_counter() - began:.0f} s, load average {load()}", flush=True)
        return 0
    finally:
        for w in workers.values():
            w.stop()
        if server.poll() is None:
            server.stdin.close()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


def run_failover(args: argparse.Namespace, workers: dict[str, Worker], counts: Callable[[], dict]) -> dict:
    """A answers 503, B answers 200; each round builds a fresh client/router, so round 1's first
    request is a cold failover and the rest show the steady state (cooldowns and all)."""
    per_round = max(1, args.failover_n // args.rounds)
    print(f"\n## Failover: A → 503, B → 200 ({per_round} requests per config and round × {args.rounds} "
          f"rounds; LiteLLM defaults capped to {args.slow_n} per round)\n", flush=True)
    results = {}
    for config, (label, path, slow) in FAILOVER.items():
        if path not in workers:
            continue
        n = args.slow_n if slow else per_round
        rounds, firsts, errors, calls_a, calls_b = [], [], 0, 0, 0
        for _ in range(args.rounds):
            before = counts()
            answer = workers[path].ask(cmd="failover", config=config, n=n)
            after = counts()
            calls_a += after["fail"] - before["fail"]
            calls_b += after["ok"] - before["ok"]
            rounds.append(answer["samples"])
            firsts.append(answer["samples"][0])
            errors += answer["errors"]
        every = [s for r in rounds for s in r]
        total = len(every)
        results[config] = {
            "label": label, "requests": total, "errors": errors,
            "first_ms": ms(statistics.median(firsts)), "median_ms": ms(statistics.median(every)),
            "p95_ms": ms(pct(every, 0.95)), "mean_ms": ms(statistics.fmean(every)),
            "calls_a_per_request": calls_a / total, "calls_b_per_request": calls_b / total,
        }
        print(f"  {config}: {results[config]['median_ms']:.2f} ms median", flush=True)
    print("\n| config | requests | first request ms | median ms | p95 ms | mean ms | calls to A / req "
          "| calls to B / req | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in results.values():
        print(f"| {s['label']} | {s['requests']} | {s['first_ms']:.2f} | {s['median_ms']:.2f} | "
              f"{s['p95_ms']:.2f} | {s['mean_ms']:.2f} | {s['calls_a_per_request']:.2f} | "
              f"{s['calls_b_per_request']:.2f} | {s['errors']} |")
    return results


if __name__ == "__main__":
    sys.exit(main())
