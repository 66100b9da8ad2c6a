"""Key handling: masking for display, redaction of free text, and the session hash.

Keys never leave memory: this module is what every other part uses before text is stored,
logged or shown.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

# Shapes of well-known secrets, redacted even when we were not told the exact value.
_KEY_PATTERNS = re.compile(
    r"(hf_[A-Za-z0-9]{8,}|sk-or-v1-[A-Za-z0-9]{8,}|sk-[A-Za-z0-9_\-]{16,}|"
    r"(?i:bearer)\s+[A-Za-z0-9._\-]{8,})"
)


def mask(key: str | None) -> str:
    """Show a key as its prefix and last four characters: `mask("hf_abcdef123456")` → `hf_…3456`."""
    if not key:
        return "not set"
    if len(key) <= 8:
        return "…" + "•" * 4
    prefix = key[:3] if key[:3] in {"hf_", "sk-"} else ""
    if key.startswith("sk-or-"):
        prefix = "sk-or-"
    return f"{prefix}…{key[-4:]}"


def redact(text: str | None, secrets: Iterable[str | None] = ()) -> str:
    """Remove the given secrets and anything shaped like an API key from `text`."""
    if not text:
        return ""
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, mask(secret))
    return _KEY_PATTERNS.sub(lambda m: "[redacted]" if m.group(0).lower().startswith("bearer")
                             else mask(m.group(0)), out)


def session_hash(session: str | None) -> str | None:
    """The session id as stored: a short one-way hash, so rows can be grouped but not traced back."""
    if not session:
        return None
    return hashlib.sha256(("spaces-os:" + session).encode()).hexdigest()[:16]
