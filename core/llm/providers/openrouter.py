"""OpenRouter: the OpenAI-compatible flow plus attribution headers, routing fields and its price list."""

from __future__ import annotations

from typing import Any

from core.llm.config import OPENROUTER_BASE
from core.llm.providers.base import ChatRequest, ModelInfo
from core.llm.providers.openai_compatible import OpenAICompatibleProvider

APP_URL = "https://huggingface.co/spaces"
APP_TITLE = "Spaces OS"
# OpenRouter-only body fields passed through from the request or the config.
ROUTING_FIELDS = ("models", "provider", "route", "plugins", "transforms", "user")


class OpenRouterProvider(OpenAICompatibleProvider):
    kind = "openrouter"

    def _chat_url(self) -> str:
        return (self.config.base_url or OPENROUTER_BASE).rstrip("/") + "/chat/completions"

    def headers(self, key: str | None) -> dict[str, str]:
        headers = super().headers(key)
        headers["HTTP-Referer"] = str(self.config.options.get("referer", APP_URL))
        headers["X-OpenRouter-Title"] = str(self.config.options.get("title", APP_TITLE))
        return headers

    def payload(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream)
        defaults = self.config.options.get("routing") or {}
        for name in ROUTING_FIELDS:
            value = request.extra.get(name, defaults.get(name) if isinstance(defaults, dict) else None)
            if value is not None:
                body[name] = value
        return body

    def _model_info(self, entry: dict[str, Any]) -> ModelInfo:
        pricing = entry.get("pricing") or {}

        def per_million(value: Any) -> float | None:   # OpenRouter prices are USD per token, as strings
            try:
                return float(value) * 1_000_000
            except (TypeError, ValueError):
                return None

        return ModelInfo(entry["id"], per_million(pricing.get("prompt")), per_million(pricing.get("completion")),
                         entry.get("context_length"))
