"""Key handling: masking for display, redaction of free text, and the session hash.

Keys never leave memory: this module is what every other part uses before text is stored,
logged or shown. Redact first, then shorten: `redact` takes the limit itself, so a key that sits
across the cut can never be half kept.

    redact("upstream said: bad key sk-or-v1-abcdef0123456789", ["sk-or-v1-abcdef0123456789"], limit=200)
    # → 'upstream said: bad key sk-or-…6789'
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from typing import Any

# Shapes of well-known secrets, redacted even when we were not told the exact value. Providers add
# their own key shape at class definition (`register_key_shape`), so a new provider needs no edit here.
_BASE_SHAPES = [r"hf_[A-Za-z0-9]{8,}", r"sk-or-v1-[A-Za-z0-9]{8,}", r"sk-[A-Za-z0-9_\-]{16,}",
                r"(?i:bearer)\s+[A-Za-z0-9._\-]{8,}"]
_KEY_PREFIXES = {"hf_", "sk-or-", "sk-"}
_KEY_PATTERNS = re.compile("(" + "|".join(_BASE_SHAPES) + ")")
# Between two characters of a key copied into text: whitespace, or an escaped line break in JSON.
_SPLIT = r"(?:\s|\\[nrt])*"
# Shorter secrets are only removed verbatim: their encodings would match ordinary text.
MIN_ENCODED_LENGTH = 8


def register_key_shape(prefix: str, pattern: str) -> None:
    """Redact keys of this shape everywhere (called by provider classes for their own key shape)."""
    global _KEY_PATTERNS
    if pattern not in _BASE_SHAPES:
        _BASE_SHAPES.append(pattern)
        _KEY_PATTERNS = re.compile("(" + "|".join(_BASE_SHAPES) + ")")
    if prefix:
        _KEY_PREFIXES.add(prefix)


def mask(key: str | None) -> str:
    """Show a key as its prefix and last four characters: `mask("hf_abcdef123456")` → `hf_…3456`."""
    if not key:
        return "not set"
    if len(key) <= 8:
        return "…" + "•" * 4
    prefix = max((p for p in _KEY_PREFIXES if key.startswith(p)), key=len, default="")
    return f"{prefix}…{key[-4:]}"


def redact(text: Any, secrets: Iterable[str | None] = (), limit: int | None = None) -> str:
    """`text` without the given secrets, their common encodings (base64 standard and URL-safe, with or
    without padding, percent-encoding, split over lines) or anything shaped like an API key; then cut
    to `limit` characters. The only way text that may hold a key should be shortened."""
    if text is None or text == "":
        return ""
    out = str(text)
    if limit is not None:
        # Bounded work on a huge body: a copy of a key starting before `limit` ends well within this margin.
        out = out[:limit + 4096]
    for secret in dict.fromkeys(s for s in secrets if s and len(s) >= 4):
        if len(secret) < MIN_ENCODED_LENGTH:
            out = out.replace(secret, mask(secret))
            continue
        out = re.sub(_verbatim_pattern(secret), mask(secret).replace("\\", "\\\\"), out)
        if encoded := _base64_pattern(secret):
            out = re.sub(encoded, "[redacted]", out)
    out = _KEY_PATTERNS.sub(lambda m: "[redacted]" if m.group(0).lower().startswith("bearer")
                            else mask(m.group(0)), out)
    if limit is not None and len(out) > limit:
        out = out[:limit]
    return out


def redact_value(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """`redact` applied to every string inside a JSON-like value (a checkpoint, a tool result)."""
    secrets = list(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, secrets) for v in value]
    return value


def _verbatim_pattern(secret: str) -> str:
    """The key as written or percent-encoded (any mix, either hex case), possibly split over lines."""
    parts = []
    for char in secret:
        hexes = "".join(f"%{b:02X}" for b in char.encode())
        parts.append(f"(?:{re.escape(char)}|(?i:{re.escape(hexes)}))")
    return _SPLIT.join(parts)


def _base64_pattern(secret: str) -> str:
    """The characters of the key's base64 (both alphabets) that do not depend on its neighbours.

    A key inside a larger encoded blob (`user:KEY`, a JSON body) starts at one of three byte offsets,
    so each offset's encoding is cut to the characters made only of the key's own bits."""
    raw = secret.encode()
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        first = -(-8 * offset // 6)                       # the first character free of the prefix
        last = 8 * (offset + len(raw)) // 6               # characters from here on mix in what follows
        core = encoded[first:last]
        cores.update({core, core.replace("+", "-").replace("/", "_")})
    alternatives = sorted((c for c in cores if len(c) >= MIN_ENCODED_LENGTH), key=len, reverse=True)
    return "|".join(_SPLIT.join(re.escape(ch) for ch in core) for core in alternatives)


def session_hash(session: str | None) -> str | None:
    """The session id as stored: a short one-way hash, so rows can be grouped but not traced back."""
    if not session:
        return None
    return hashlib.sha256(("spaces-os:" + session).encode()).hexdigest()[:16]
