"""Hugging Face Inference Providers through `huggingface_hub.InferenceClient`.

`provider` is `auto` (the HF router picks), a named provider (`together`, `groq`…), or a policy
suffix on the model (`org/model:fastest`, `:cheapest`). The client is always built with an
explicit `hf_` key: without one, InferenceClient would attach the machine's HF_TOKEN on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from core.errors import ErrorKind, ProviderError
from core.llm.config import HF_ROUTER_BASE
from core.llm.keys import redact
from core.llm.providers.base import (
    ChatRequest,
    Completion,
    ModelInfo,
    Provider,
    generation_options,
    http_error,
)


class HuggingFaceProvider(Provider):
    kind = "huggingface"

    def accepts_key(self, key: str) -> str | None:
        if not key.startswith("hf_"):
            return "a Hugging Face token starts with `hf_`"
        return None

    def _client(self, key: str, timeout: float):
        from huggingface_hub import InferenceClient  # imported lazily: 270 ms that demo mode never pays

        bill_to = self.config.options.get("bill_to")
        if self.config.base_url:
            # The operator pointed this provider at a specific URL in their own (trusted) config.
            return InferenceClient(base_url=self.config.base_url, api_key=key, timeout=timeout)
        provider = self.config.options.get("provider") or "auto"
        return InferenceClient(provider=provider, api_key=key, timeout=timeout, bill_to=bill_to)

    def _arguments(self, request: ChatRequest) -> dict[str, Any]:
        return generation_options(request)

    def _check_key(self, key: str | None) -> str:
        if not key:
            raise ProviderError(ErrorKind.AUTH, f"{self.name}: no Hugging Face token")
        problem = self.accepts_key(key)
        if problem:
            raise ProviderError(ErrorKind.AUTH, f"{self.name}: {problem}")
        return key

    def chat(self, request: ChatRequest, key: str | None, timeout: float) -> Completion:
        key = self._check_key(key)
        with self._client(key, timeout) as client:
            try:
                out = client.chat_completion(request.messages, **self._arguments(request))
            except Exception as e:
                raise self._normalise(e, key) from None
        try:
            choice = out.choices[0]
            text = choice.message.content
            tool_calls = [dict(c) for c in choice.message.tool_calls] if choice.message.tool_calls else None
            if text is None and not tool_calls:
                raise ValueError("no content")
        except (AttributeError, IndexError, TypeError, ValueError):
            raise ProviderError(ErrorKind.BAD_RESPONSE, f"{self.name}: answered without a valid completion") \
                from None
        usage = out.usage
        cost = getattr(usage, "cost", None) if usage else None
        return Completion(
            text=text or "", model=out.model, tokens_in=getattr(usage, "prompt_tokens", None),
            tokens_out=getattr(usage, "completion_tokens", None),
            cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
            finish_reason=choice.finish_reason, tool_calls=tool_calls,
        )

    def stream(self, request: ChatRequest, key: str | None, timeout: float) -> Iterator[str | Completion]:
        key = self._check_key(key)
        final = Completion(text="")
        parts: list[str] = []
        with self._client(key, timeout) as client:
            try:
                for chunk in client.chat_completion(request.messages, stream=True, **self._arguments(request)):
                    final.model = getattr(chunk, "model", None) or final.model
                    usage = getattr(chunk, "usage", None)
                    if usage:
                        final.tokens_in = getattr(usage, "prompt_tokens", None)
                        final.tokens_out = getattr(usage, "completion_tokens", None)
                    for choice in chunk.choices or []:
                        text = choice.delta.content if choice.delta else None
                        if text:
                            parts.append(text)
                            yield text
                        if choice.finish_reason:
                            final.finish_reason = choice.finish_reason
            except ProviderError:
                raise
            except Exception as e:
                raise self._normalise(e, key, streaming=True) from None
        if final.finish_reason is None:    # no finish_reason: cut short, empty, or not a stream at all
            raise ProviderError(ErrorKind.STREAM_ERROR, f"{self.name}: the stream ended before it was complete")
        final.text = "".join(parts)
        yield final

    def _normalise(self, e: Exception, key: str, streaming: bool = False) -> ProviderError:
        from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError, TextGenerationError
        from huggingface_hub.utils import httpx as hf_httpx  # httpx2 on huggingface_hub 2.x

        if isinstance(e, (InferenceTimeoutError, hf_httpx.TimeoutException)):
            return ProviderError(ErrorKind.TIMEOUT, f"{self.name}: no answer in time")
        if isinstance(e, HfHubHTTPError) and e.response is not None:
            response = e.response
            try:
                body = response.json()
            except Exception:
                body = None
            try:
                text = response.text
            except Exception:
                text = ""
            return http_error(self.name, response.status_code, body, text, response.headers.get("retry-after"),
                              key)
        if isinstance(e, TextGenerationError):
            return ProviderError(ErrorKind.STREAM_ERROR,
                                 f"{self.name}: error in the stream: {redact(str(e), [key])[:200]}")
        if isinstance(e, (hf_httpx.RemoteProtocolError, hf_httpx.ReadError)) and streaming:
            return ProviderError(ErrorKind.STREAM_ERROR, f"{self.name}: the stream was cut off")
        if isinstance(e, hf_httpx.HTTPError):
            return ProviderError(ErrorKind.UNAVAILABLE, f"{self.name}: cannot reach the endpoint "
                                                        f"({type(e).__name__})")
        if isinstance(e, (json.JSONDecodeError, ValueError, KeyError, TypeError)):
            return ProviderError(ErrorKind.BAD_RESPONSE,
                                 f"{self.name}: answered with something that is not a completion "
                                 f"({type(e).__name__}: {redact(str(e), [key])[:120]})")
        return ProviderError(ErrorKind.UNAVAILABLE, f"{self.name}: {type(e).__name__}: {redact(str(e), [key])[:160]}")

    def list_models(self, key: str | None, timeout: float = 10.0) -> list[ModelInfo]:
        """The HF router's `/v1/models` listing, with the cheapest live provider's price per model."""
        import httpx

        base = (self.config.base_url or HF_ROUTER_BASE).rstrip("/").removesuffix("/chat/completions")
        headers = {"Authorization": f"Bearer {key}"} if key and key.startswith("hf_") else {}
        try:
            response = httpx.get(base + "/models", headers=headers, timeout=timeout)
        except httpx.HTTPError as e:
            raise ProviderError(ErrorKind.UNAVAILABLE, f"{self.name}: cannot list models ({type(e).__name__})") \
                from None
        if response.status_code >= 400:
            raise http_error(self.name, response.status_code, None, response.text, None, key)
        try:
            entries = response.json().get("data", [])
        except (ValueError, AttributeError):
            raise ProviderError(ErrorKind.BAD_RESPONSE, f"{self.name}: the model list is not JSON") from None
        models = []
        for entry in entries:
            live = [p for p in entry.get("providers") or [] if p.get("status") == "live" and p.get("pricing")]
            cheapest = min(live, key=lambda p: p["pricing"].get("output") or 0, default=None)
            models.append(ModelInfo(
                entry.get("id", "?"),
                cheapest["pricing"].get("input") if cheapest else None,
                cheapest["pricing"].get("output") if cheapest else None,
                cheapest.get("context_length") if cheapest else None,
                note=f"via {cheapest['provider']}" if cheapest else "",
            ))
        return models
