"""LiteLLM as a client of the console's API: run by the LiteLLM venv's python (tests/test_litellm_client.py).

    python tests/litellm_client.py http://127.0.0.1:PORT/v1 sos_… local/fake-model  → one JSON line on stdout

It imports nothing of the project (the venv holds LiteLLM, not the app). What it prints: a non-streaming
completion, a stream (its chunks, text and usage), and what LiteLLM raises for an unknown token.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")     # no price-map download: tests have no internet
os.environ.setdefault("LITELLM_TELEMETRY", "False")

import litellm  # noqa: E402 - after the environment above


def main(api_base: str, token: str, model: str) -> dict:
    litellm.suppress_debug_info = True
    common = {"model": f"openai/{model}", "api_base": api_base, "num_retries": 0}

    reply = litellm.completion(messages=[{"role": "user", "content": "hello from litellm"}], api_key=token, **common)
    out: dict = {"completion": {"text": reply.choices[0].message.content, "model": reply.model,
                                "finish_reason": reply.choices[0].finish_reason,
                                "usage": [reply.usage.prompt_tokens, reply.usage.completion_tokens,
                                          reply.usage.total_tokens]}}

    pieces, usage, finish = [], None, None
    for chunk in litellm.completion(messages=[{"role": "user", "content": "stream from litellm"}], api_key=token,
                                    stream=True, stream_options={"include_usage": True}, **common):
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        if getattr(chunk, "usage", None):
            usage = [chunk.usage.prompt_tokens, chunk.usage.completion_tokens, chunk.usage.total_tokens]
    out["stream"] = {"text": "".join(pieces), "chunks": sum(1 for p in pieces if p), "usage": usage,
                     "finish_reason": finish}

    try:
        litellm.completion(messages=[{"role": "user", "content": "x"}], api_key="sos_not-a-token", **common)
        out["unknown_token"] = {"raised": None}
    except Exception as exc:            # LiteLLM maps the status to its own exception classes
        out["unknown_token"] = {"raised": type(exc).__name__, "status": getattr(exc, "status_code", None),
                                "message": str(exc)[:500]}
    out["litellm"] = __import__("importlib.metadata").metadata.version("litellm")
    return out


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
