"""Groq, direct: the OpenAI-compatible flow at Groq's own API, billed by Groq with a `gsk_…` key.

    groq:
      api_key: ${GROQ_API_KEY}        # or only set GROQ_API_KEY in the environment
      models: [llama-3.1-8b-instant]

The whole provider is its facts: everything else is the shared OpenAI-compatible flow.
"""

from __future__ import annotations

from core.llm.providers.openai_compatible import OpenAICompatibleProvider


class GroqProvider(OpenAICompatibleProvider):
    kind = "groq"
    display_name = "Groq"
    env_keys = ("GROQ_API_KEY",)
    default_base_url = "https://api.groq.com/openai/v1"
    default_models = ("llama-3.1-8b-instant", "llama-3.3-70b-versatile")
    key_prefix = "gsk_"
    key_shape = r"gsk_[A-Za-z0-9]{20,}"
