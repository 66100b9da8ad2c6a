"""Provider registry: one small module per provider, all behind `core.llm.providers.base.Provider`."""

from __future__ import annotations

from core.llm.config import ProviderConfig
from core.llm.providers.base import ChatRequest, Completion, Health, ModelInfo, Provider
from core.llm.providers.demo import DemoProvider
from core.llm.providers.huggingface import HuggingFaceProvider
from core.llm.providers.openai_compatible import OpenAICompatibleProvider
from core.llm.providers.openrouter import OpenRouterProvider

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    "huggingface": HuggingFaceProvider,
    "openrouter": OpenRouterProvider,
    "openai_compatible": OpenAICompatibleProvider,
    "demo": DemoProvider,
}


def build_provider(config: ProviderConfig) -> Provider:
    return PROVIDER_CLASSES[config.kind](config)


__all__ = ["ChatRequest", "Completion", "Health", "ModelInfo", "Provider", "build_provider"]
