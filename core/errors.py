"""Error kinds the router decides on, and the exceptions that carry them.

Every provider failure is normalised to one `ErrorKind`, so retry, fallback and cooldown logic
never looks at raw status codes or library exception types.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    PAYMENT = "payment"
    BAD_REQUEST = "bad_request"
    BAD_RESPONSE = "bad_response"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    STREAM_ERROR = "stream_error"


# Kinds worth another try on the same provider after a pause.
RETRYABLE = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT})
# Kinds that say the provider itself is unhealthy (they feed the circuit breaker).
HEALTH_FAILURES = frozenset(
    {ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT, ErrorKind.BAD_RESPONSE, ErrorKind.STREAM_ERROR}
)

PLAIN_WORDS = {
    ErrorKind.RATE_LIMITED: "rate limited",
    ErrorKind.AUTH: "key refused",
    ErrorKind.PAYMENT: "out of credits / payment required",
    ErrorKind.BAD_REQUEST: "request rejected",
    ErrorKind.BAD_RESPONSE: "answered with an invalid completion",
    ErrorKind.UNAVAILABLE: "unavailable",
    ErrorKind.TIMEOUT: "timed out",
    ErrorKind.STREAM_ERROR: "stream broke",
}

WHAT_TO_DO = {
    ErrorKind.RATE_LIMITED: "wait a moment or add your own key on the Providers page",
    ErrorKind.AUTH: "check the key on the Providers page",
    ErrorKind.PAYMENT: "add credits to that account or use another provider",
    ErrorKind.BAD_REQUEST: "check the model name and the message",
    ErrorKind.BAD_RESPONSE: "try another provider or model",
    ErrorKind.UNAVAILABLE: "try again shortly or pick another provider",
    ErrorKind.TIMEOUT: "try again or raise the provider's timeout",
    ErrorKind.STREAM_ERROR: "retry; the partial answer is kept",
}


class SpacesOSError(Exception):
    """Base of every error this app raises on purpose; its text is safe to show a user."""


class ConfigError(SpacesOSError):
    """A config file or value is wrong. The message names the file, line and key path."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 path: str | None = None):
        where = []
        if source:
            where.append(str(source) + (f", line {line}" if line else ""))
        if path:
            where.append(f"at `{path}`")
        self.source, self.line, self.path = source, line, path
        self.detail = message
        super().__init__(f"{' '.join(where)}: {message}" if where else message)


class ProviderError(SpacesOSError):
    """One failed provider call, already normalised and redacted."""

    def __init__(self, kind: ErrorKind, message: str, *, status: int | None = None,
                 retry_after: float | None = None):
        self.kind = ErrorKind(kind)
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class StreamInterrupted(SpacesOSError):
    """A stream failed after its first token: no failover, the partial text is kept."""

    def __init__(self, message: str, partial_text: str, attempts: list):
        self.partial_text = partial_text
        self.attempts = attempts
        super().__init__(message)


class AllProvidersFailed(SpacesOSError):
    """Every candidate failed; the message lists each attempt in plain words."""

    def __init__(self, attempts: list, *, reason: str | None = None):
        self.attempts = attempts
        lines = [reason or "No provider could answer this request."]
        for a in attempts:
            status = f" (HTTP {a.http_status})" if a.http_status else ""
            words = PLAIN_WORDS.get(a.outcome, a.outcome) if a.outcome != "cooldown_skip" else \
                "skipped: cooling down after recent failures"
            detail = " ".join(str(a.error).split())[:200] if a.error and a.outcome != "cooldown_skip" else ""
            lines.append(f"- {a.provider} / {a.model or 'default model'} with {a.key_source} key: "
                         f"{words}{status}" + (f" — {detail}" if detail else ""))
        kinds = [ErrorKind(a.outcome) for a in attempts if a.outcome in ErrorKind.__members__.values()]
        if kinds:
            lines.append(f"What to do: {WHAT_TO_DO[kinds[-1]]}.")
        super().__init__("\n".join(lines))
