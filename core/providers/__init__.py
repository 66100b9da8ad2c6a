"""Provider registry: one small module per provider, all behind `core.providers.base.Provider`."""

from __future__ import annotations

from core.config import ProviderConfig
from core.providers.base import ChatRequest, Completion, Health, ModelInfo, Provider
from core.providers.demo import DemoProvider
from core.providers.huggingface import HuggingFaceProvider
from core.providers.openai_compatible import OpenAICompatibleProvider
from core.providers.openrouter import OpenRouterProvider

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    "huggingface": HuggingFaceProvider,
    "openrouter": OpenRouterProvider,
    "openai_compatible": OpenAICompatibleProvider,
    "demo": DemoProvider,
}


def build_provider(config: ProviderConfig) -> Provider:
    return PROVIDER_CLASSES[config.kind](config)


__all__ = ["ChatRequest", "Completion", "Health", "ModelInfo", "Provider", "build_provider"]
