"""Hugging Face Inference Providers through the HF router's OpenAI-compatible API.

    POST https://router.huggingface.co/v1/chat/completions   {"model": "org/model:fastest", ...}

The shared OpenAI-compatible flow sends it on this provider's own `httpx.HTTPTransport`: no
redirect is followed (the prompt and the key never go to another origin), there is no cookie jar
(one visitor's cookie never rides on the next visitor's request), and the only key sent is the one
the router passes, never the machine's `HF_TOKEN`. The router resolves the provider itself, so
there is no Hub lookup (the provider-mapping call huggingface_hub makes with the machine's token).

`provider` in the config is `auto` (the router picks) or a name (`together`, `groq`…), sent as the
router's model suffix when the model has none; policies are suffixes too (`org/model:cheapest`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from core.errors import ErrorKind, ProviderError
from core.llm.providers.base import ChatRequest, Completion, ModelInfo
from core.llm.providers.openai_compatible import OpenAICompatibleProvider

_HUB_NAME = r"[A-Za-z0-9][\w.\-]*"


class HuggingFaceProvider(OpenAICompatibleProvider):
    kind = "huggingface"
    display_name = "Hugging Face"
    aliases = ("hf",)
    env_keys = ("HF_TOKEN",)
    default_base_url = "https://router.huggingface.co/v1"
    default_models = ("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "deepseek-ai/DeepSeek-V3-0324")
    key_prefix = "hf_"
    key_shape = r"hf_[A-Za-z0-9]{8,}"
    key_shape_required = True
    model_shape = rf"{_HUB_NAME}/{_HUB_NAME}(?::[\w.\-]+)?"
    model_hint = ("a Hugging Face model id such as `meta-llama/Llama-3.1-8B-Instruct`, optionally with a "
                  "provider or policy suffix (`:together`, `:fastest`, `:cheapest`)")

    @classmethod
    def configured_url(cls, url: str | None, path: str, warnings: list[str]) -> str | None:
        return url.rstrip("/") if url else None      # None: the public router (`default_base_url`)

    def headers(self, key: str | None) -> dict[str, str]:
        headers = super().headers(key)
        if self.config.options.get("bill_to"):
            headers["X-HF-Bill-To"] = str(self.config.options["bill_to"])
        return headers

    def payload(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream)
        pinned = self.config.options.get("provider")
        if pinned and pinned != "auto" and body.get("model") and ":" not in body["model"]:
            body["model"] = f"{body['model']}:{pinned}"
        return body

    def _check_key(self, key: str | None) -> str:
        if not key:
            raise ProviderError(ErrorKind.AUTH, f"{self.name}: no Hugging Face token")
        problem = self.accepts_key(key)
        if problem:
            raise ProviderError(ErrorKind.AUTH, f"{self.name}: {problem}")
        return key

    def chat(self, request: ChatRequest, key: str | None, timeout: float) -> Completion:
        return super().chat(request, self._check_key(key), timeout)

    def stream(self, request: ChatRequest, key: str | None, timeout: float) -> Iterator[str | Completion]:
        yield from super().stream(request, self._check_key(key), timeout)   # checked before anything is sent

    def list_models(self, key: str | None, timeout: float = 10.0) -> list[ModelInfo]:
        """The HF router's `/v1/models` listing, with the cheapest live provider's price per model."""
        return super().list_models(key if key and key.startswith(self.key_prefix) else None, timeout)

    def _model_info(self, entry: dict[str, Any]) -> ModelInfo:
        live = [p for p in entry.get("providers") or []
                if isinstance(p, dict) and p.get("status") == "live" and p.get("pricing")]
        cheapest = min(live, key=lambda p: p["pricing"].get("output") or 0, default=None)
        return ModelInfo(
            entry["id"],
            cheapest["pricing"].get("input") if cheapest else None,
            cheapest["pricing"].get("output") if cheapest else None,
            cheapest.get("context_length") if cheapest else None,
            note=f"via {cheapest['provider']}" if cheapest else "",
        )
