"""OpenRouter: the OpenAI-compatible flow plus attribution headers, routing fields and its price list.

    openrouter:
      referer: https://my-console.example      # HTTP-Referer, OpenRouter's name for this app
      routing: {provider: {sort: price}}        # default routing fields for every request

`HTTP-Referer` is this install's own URL: `referer`, else the Space's URL when hosted (the config's
`app_url`, from SPACE_HOST / SPACE_ID), else none at all, never a URL every install would share.
A 403 is a guardrail, moderation or permission block (`ErrorKind.BLOCKED`), not a refused key.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from core.errors import ErrorKind
from core.llm.providers.base import ChatRequest, ModelInfo, kind_for_status
from core.llm.providers.openai_compatible import OpenAICompatibleProvider

APP_TITLE = "Spaces OS"
# OpenRouter-only body fields passed through from the request or the config.
ROUTING_FIELDS = ("models", "provider", "route", "plugins", "transforms", "user")


class OpenRouterProvider(OpenAICompatibleProvider):
    kind = "openrouter"
    display_name = "OpenRouter"
    env_keys = ("OPENROUTER_API_KEY", "OPENROUTER_KEY")
    default_base_url = "https://openrouter.ai/api/v1"
    default_models = ("openai/gpt-4o-mini", "anthropic/claude-3.5-haiku", "openai/gpt-4o")
    key_prefix = "sk-or-"
    key_shape = r"sk-or-v1-[A-Za-z0-9]{8,}"
    model_shape = r"~?[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-+]*(?::[\w.\-]+)?"
    uses_app_url = True                       # HTTP-Referer: the app's identity on OpenRouter
    model_hint = "an OpenRouter model id such as `openai/gpt-4o-mini` or `meta-llama/llama-3.1-8b-instruct:free`"
    # Hosts people write for OpenRouter that do not serve its API.
    wrong_hosts = frozenset({"api.openrouter.ai", "openrouter.com", "api.openrouter.com"})

    @classmethod
    def configured_url(cls, url: str | None, path: str, warnings: list[str]) -> str | None:
        if url and urlparse(url).hostname in cls.wrong_hosts:
            warnings.append(f"`{path}.url` points at {urlparse(url).hostname}, which does not serve "
                            f"OpenRouter's API; using {cls.default_base_url} instead.")
            url = None
        return super().configured_url(url, path, warnings)

    def headers(self, key: str | None) -> dict[str, str]:
        headers = super().headers(key)
        referer = self.config.options.get("referer") or self.config.options.get("app_url")
        if referer:
            headers["HTTP-Referer"] = str(referer)
        headers["X-OpenRouter-Title"] = str(self.config.options.get("title", APP_TITLE))
        return headers

    def error_kind(self, status: int | None, body: Any = None) -> ErrorKind | None:
        if status == 403:     # errors-and-debugging: "insufficient permissions, guardrail block, or moderation flag"
            return ErrorKind.BLOCKED
        return kind_for_status(status, body)

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
