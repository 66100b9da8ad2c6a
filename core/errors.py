"""Every error Spaces OS raises on purpose: one tree under `SpacesOSError`, and the kinds it decides on.

    try:
        result = router.chat(messages, keys=keys)
    except AllProvidersFailed as e:   # every candidate failed: e.attempts, one line each in str(e)
        ...
    except SpacesOSError as e:        # anything else raised on purpose
        shown = str(e)                # plain words, safe to show a user

Catch at the depth you care about. A class that used to be a `ValueError` or `LookupError` still is
one, so older `except ValueError:` callers keep working. This module is the shared kernel: any layer
may import it, and it imports none of them. A subclass lives in the package named on its right;
without a name, it is defined here.

    SpacesOSError                             str(error) is plain words, safe to show a user
    ├── ConfigError                           a config file or value is wrong: file, line, key
    │   └── RulesError                        routing.yaml                          core.agent.rules
    ├── ProviderError                         one failed provider call; .kind: ErrorKind
    ├── TooManyTasks                          a session's unfinished tasks are at the limit
    ├── StreamInterrupted                     broke after the first token; text kept
    ├── AllProvidersFailed                    every candidate failed; a line each
    ├── BlockedURL (ValueError)               a URL that may not be called          core.llm.netguard
    ├── HubError                              the Hugging Face Hub
    │   ├── HubActionError                    a failed Hub call; .kind: HubErrorKind core.hub.errors
    │   ├── InvalidRepoIdError (ValueError)   an id breaks a Hub naming rule        core.hub.names
    │   └── HubCallTimeout (TimeoutError)     a Hub request outlived its call's bound core.hub.errors
    ├── ToolError                             a tool an agent calls
    │   ├── ToolArgumentError (ValueError)    arguments break the tool's schema     core.tools.registry
    │   ├── ToolNotFoundError (LookupError)   no tool by that name                  core.tools.registry
    │   ├── McpUnavailable                    a remote MCP server can't be used     core.tools.mcp_client
    │   └── McpToolError                      the remote tool reported an error     core.tools.mcp_client
    ├── BuildError                            building a Space
    │   ├── WorkflowError                     no such run, or it is busy            core.build.workflow
    │   ├── StepFailed                        a step failed, in plain words         core.build.workflow
    │   ├── StopRun                           a step ends the run on purpose        core.build.workflow
    │   ├── FileFormatError (ValueError)      the model's file blocks are malformed core.build.file_format
    │   └── PreviewEnvError                   the app's requirements won't install  core.build.preview_env
    ├── StoreError                            the database failed; .kind, .path, what to do
    ├── NotYourTask                           a session asked for another's task    core.app.tasks
    ├── ApiError                              an HTTP API answer: status, OpenAI shape core.app.gateway.errors
    └── ReadOnlyRules                         a visitor tried to edit shared rules  core.app.rules

Two branches decide on kinds, each with its own enum and its own words for the user:

* `ErrorKind` (here): every provider failure, so retry, fallback and cooldown never look at raw status
  codes or library exceptions. `RETRYABLE` and `HEALTH_FAILURES` drive the router; `PLAIN_WORDS` and
  `WHAT_TO_DO` are what the user reads.
* `HubErrorKind` (core.hub.errors): every Hub failure, with `HUB_PLAIN_WORDS` and `HUB_WHAT_TO_DO`.

They are not merged: the same word needs different advice (a refused provider key is fixed on the
Providers page, a refused Hub token in the sidebar), and the Hub kinds mean nothing to the router. Both
are `StrEnum`s with shared values, so `ErrorKind.AUTH == HubErrorKind.AUTH`: one table could not hold both.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """How one provider call failed; the router's retry, fallback and cooldown decide on this alone."""

    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    PAYMENT = "payment"
    BAD_REQUEST = "bad_request"
    BAD_RESPONSE = "bad_response"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    STREAM_ERROR = "stream_error"
    BLOCKED = "blocked"             # a guardrail, moderation or a permission refused the request (OpenRouter's 403)


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
    ErrorKind.BLOCKED: "blocked by a guardrail, moderation or permissions",
}

WHAT_TO_DO = {
    ErrorKind.RATE_LIMITED: "wait a moment or add your own key on the Providers page",
    ErrorKind.AUTH: "check the key on the Providers page",
    ErrorKind.PAYMENT: "add credits to that account or use another provider",
    ErrorKind.BAD_REQUEST: "check the model name and the message",
    ErrorKind.BAD_RESPONSE: "try another provider or model",
    ErrorKind.UNAVAILABLE: "try again shortly or pick another provider",
    ErrorKind.TIMEOUT: "try again or raise the provider's timeout",
    ErrorKind.STREAM_ERROR: "retry, or pick another provider",
    ErrorKind.BLOCKED: "rephrase the request, or check the key's permissions and guardrails in the provider's settings",
}
# When the failing key was the session's own (BYOK), "add your own key" is no advice.
BYOK_WHAT_TO_DO = {
    ErrorKind.RATE_LIMITED: "wait a moment or pick another provider: the limit is on your own key",
}


# Words in a connection error that mean the host name was not found: no key or provider setting fixes that.
_DNS_WORDS = ("could not be resolved", "name or service not known", "nodename nor servname", "getaddrinfo",
              "temporary failure in name resolution", "no address associated")


def advice_for(kind: str, detail: str | None = None, key_source: str | None = None) -> str:
    """What to do about one failure, matched to its cause: a host name that does not resolve is a network or
    URL problem whatever kind it was filed under, e.g. advice_for("unavailable", "api.x could not be resolved")."""
    text = (detail or "").lower()
    if any(word in text for word in _DNS_WORDS):
        return "check the network connection and the provider's URL (its host name could not be found)"
    if key_source == "byok" and kind in BYOK_WHAT_TO_DO:
        return BYOK_WHAT_TO_DO[kind]
    return WHAT_TO_DO.get(kind, "try again or pick another provider")


def _attempt_line(a) -> str:
    """One attempt in plain words, ending with a full stop."""
    status = f" (HTTP {a.http_status})" if a.http_status else ""
    if a.outcome == "cooldown_skip":
        words, detail = "skipped: cooling down after recent failures", ""
    else:
        words = PLAIN_WORDS.get(a.outcome, a.outcome)
        detail = " ".join(str(a.error).split())[:200].rstrip(" .") if a.error else ""
    return (f"{a.provider} / {a.model or 'default model'} with {a.key_source} key: {words}{status}"
            + (f": {detail}" if detail else "") + ".")


class SpacesOSError(Exception):
    """Base of every error this app raises on purpose; its text is safe to show a user."""


class HubError(SpacesOSError):
    """A failure talking to the Hugging Face Hub, or a Hub name refused before sending."""


class ToolError(SpacesOSError):
    """A tool call an agent asked for could not be made or failed; the agent reads the message."""


class BuildError(SpacesOSError):
    """Building a Space: the workflow engine, its steps, and the model's file-block answers."""


class StoreError(SpacesOSError):
    """The database could not be read or written. `kind` is one of STORE_WHAT_TO_DO's keys; the message
    says what happened, where, and what to do, e.g. "The database is read-only at data/x.db: …"."""

    def __init__(self, kind: str, path: str, detail: str = ""):
        self.kind = kind if kind in STORE_WHAT_TO_DO else "failed"
        self.path = path
        self.detail = detail
        super().__init__(f"The database {STORE_PLAIN_WORDS[self.kind]} at {path}"
                         + (f" ({detail})" if detail else "") + f". What to do: {STORE_WHAT_TO_DO[self.kind]}.")


STORE_PLAIN_WORDS = {
    "read_only": "file is read-only",
    "disk_full": "could not be written: the disk is full",
    "corrupt": "file is corrupt (not a readable SQLite database)",
    "locked": "is locked by another process",
    "cannot_open": "file cannot be opened",
    "io_error": "could not be read or written (disk I/O error)",
    "unreachable": "server cannot be reached",
    "failed": "failed",
}

STORE_WHAT_TO_DO = {
    "read_only": "make the file and its folder writable by the app, or point SPACES_OS_DB at a writable path",
    "disk_full": "free disk space (or grow the volume); usage rows are not recorded until then",
    "corrupt": "move the file aside (a new one is created) or restore it from a backup",
    "locked": "wait a moment and retry; if it persists, stop the other process holding the database",
    "cannot_open": "check that the folder exists and is writable, or point SPACES_OS_DB elsewhere",
    "io_error": "check the disk: it may be full, over a size limit, failing or unmounted",
    "unreachable": "check that the PostgreSQL server in SPACES_OS_DB is running and accepts this app's user",
    "failed": "retry; if it persists, check the file and the disk",
}


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
                 retry_after: float | None = None, tokens_in: int | None = None, tokens_out: int | None = None,
                 cost_usd: float | None = None):
        self.kind = ErrorKind(kind)
        self.status = status
        self.retry_after = retry_after
        # Usage the provider reported with the failure: a failed generation can still be billed.
        self.tokens_in, self.tokens_out, self.cost_usd = tokens_in, tokens_out, cost_usd
        super().__init__(message)


class TooManyTasks(SpacesOSError):
    """A session (or the whole console) has as many unfinished tasks as it may: cancel one or wait."""


class StreamInterrupted(SpacesOSError):
    """A stream failed after its first token: no failover, the partial text is kept."""

    def __init__(self, message: str, partial_text: str, attempts: list):
        self.partial_text = partial_text
        self.attempts = attempts
        super().__init__(message)


class AllProvidersFailed(SpacesOSError):
    """Every candidate failed; the message lists each attempt in plain words (identical attempts merged,
    "3 × …"), then what to do for each distinct cause, as its own paragraph."""

    def __init__(self, attempts: list, *, reason: str | None = None):
        self.attempts = attempts
        lines = [reason or "No provider could answer this request.", ""]
        merged: list[list] = []          # [count, line], identical consecutive attempts counted once
        for a in attempts:
            line = _attempt_line(a)
            if merged and merged[-1][1] == line:
                merged[-1][0] += 1
            else:
                merged.append([1, line])
        lines += [f"- {f'{n} × ' if n > 1 else ''}{line}" for n, line in merged]
        advice = list(dict.fromkeys(advice_for(a.outcome, a.error, a.key_source) for a in attempts
                                    if a.outcome in ErrorKind.__members__.values()))
        if advice:
            lines += ["", "What to do: " + "; ".join(advice) + "."]
        super().__init__("\n".join(lines))
