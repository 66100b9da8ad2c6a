"""Provider registry: one small module per provider, all behind `core.llm.providers.base.Provider`.

    key_problem("huggingface", "sk-or-v1-…")   # → "This looks like an OpenRouter key (`sk-or-…`), …"
    kind_for_name("hf")                         # → "huggingface"; a name of your own → "openai_compatible"

Adding a provider is one module and one line in `PROVIDER_CLASSES` (see NEW_PROVIDER.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.llm.providers.base import ChatRequest, Completion, Health, ModelInfo, Provider
from core.llm.providers.demo import DemoProvider
from core.llm.providers.groq import GroqProvider
from core.llm.providers.huggingface import HuggingFaceProvider
from core.llm.providers.openai_compatible import OpenAICompatibleProvider
from core.llm.providers.openrouter import OpenRouterProvider

if TYPE_CHECKING:
    from core.llm.config import ProviderConfig

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    "huggingface": HuggingFaceProvider,
    "openrouter": OpenRouterProvider,
    "groq": GroqProvider,
    "openai_compatible": OpenAICompatibleProvider,
    "demo": DemoProvider,
}
# A config section named like this is that provider; any other name is an OpenAI-compatible endpoint.
CUSTOM_KIND = "openai_compatible"


def build_provider(config: ProviderConfig) -> Provider:
    return PROVIDER_CLASSES[config.kind](config)


def kind_for_name(name: str) -> str | None:
    """The built-in provider a config section name means (`hf` → `huggingface`), or None for a custom one."""
    lowered = name.lower()
    for kind, cls in PROVIDER_CLASSES.items():
        if kind != CUSTOM_KIND and (lowered == kind or lowered in cls.aliases):
            return kind
    return None


def provider_class(name_or_kind: str) -> type[Provider]:
    """The class for a kind or a config section name; a name that is no built-in's is a custom endpoint."""
    return PROVIDER_CLASSES.get(name_or_kind) or PROVIDER_CLASSES[kind_for_name(name_or_kind) or CUSTOM_KIND]


def key_owner(key: str) -> type[Provider] | None:
    """The provider whose keys look like `key` (by prefix, the longest first), if any."""
    owners = [cls for cls in PROVIDER_CLASSES.values() if cls.key_prefix and key.startswith(cls.key_prefix)]
    return max(owners, key=lambda cls: len(cls.key_prefix), default=None)


def key_problem(provider: str, key: str) -> str | None:
    """Why `key` cannot be this provider's key, in plain words, or None.

    `provider` is a kind or a config section name. A key shaped like another provider's key is refused
    (an `sk-or-…` key in the Hugging Face field); a provider with `key_shape_required` also refuses
    keys without its prefix. A custom OpenAI-compatible endpoint takes any key: it may be a proxy for
    anything.
    """
    cls = provider_class(provider)
    key = (key or "").strip()
    if not key or cls.kind in (CUSTOM_KIND, "demo"):
        return None
    own = f" (`{cls.key_prefix}…`)" if cls.key_prefix else ""
    owner = key_owner(key)
    if owner is not None and owner is not cls:
        return (f"This looks like {_a(owner.display_name)} key (`{owner.key_prefix}…`), not "
                f"{_a(cls.display_name)} key{own}: paste it in the {owner.display_name} field instead.")
    if owner is None and cls.key_shape_required and cls.key_prefix:
        return f"This is not {_a(cls.display_name)} key: {_a(cls.display_name)} key starts with `{cls.key_prefix}`."
    return None


def _a(name: str) -> str:
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


__all__ = ["ChatRequest", "Completion", "Health", "ModelInfo", "Provider", "PROVIDER_CLASSES", "build_provider",
           "key_owner", "key_problem", "kind_for_name", "provider_class"]
