"""Hub failures in plain words: the Hub branch of the error tree drawn in `core.errors`.

Every failure of a Hub call (HTTP status, network, timeout, a name refused before sending) becomes one
`HubActionError` with a `kind`, so pages and tools decide on kinds and show `message` + `hint` as is.
`HubErrorKind` is this branch's own kind enum, beside the providers' `ErrorKind` (why two: see
`core.errors`); `HUB_PLAIN_WORDS` and `HUB_WHAT_TO_DO` are its words for the user.
Messages are built from our own templates; any text that comes from the server or a library is
redacted of the token and of other secrets before it is kept.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from collections.abc import Iterable
from enum import StrEnum

import httpx2
from huggingface_hub.errors import (
    BadRequestError,
    GatedRepoError,
    HfHubHTTPError,
    LocalTokenNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
)

from core.errors import HubError
from core.hub.names import InvalidRepoIdError
from core.llm.keys import mask, redact


class HubErrorKind(StrEnum):
    AUTH = "auth"                    # 401: token missing or refused
    FORBIDDEN = "forbidden"          # 403: token lacks the scope or the rights
    PAYMENT = "payment"              # 402: a paid plan is needed
    NOT_FOUND = "not_found"          # 404
    NAME_TAKEN = "name_taken"        # 409 on create / duplicate
    RATE_LIMITED = "rate_limited"    # 429
    UNAVAILABLE = "unavailable"      # 5xx, connection refused, DNS...
    TIMEOUT = "timeout"              # the Hub or a Space took too long
    INVALID_NAME = "invalid_name"    # refused before sending
    INVALID_INPUT = "invalid_input"  # another argument refused before sending
    NOT_CONFIRMED = "not_confirmed"  # a destructive action without the exact confirmation
    BAD_REQUEST = "bad_request"      # any other 4xx: the Hub's own words are kept (redacted)


HUB_PLAIN_WORDS = {
    HubErrorKind.AUTH: "Hugging Face token missing or refused",
    HubErrorKind.FORBIDDEN: "token lacks the rights",
    HubErrorKind.PAYMENT: "paid plan required",
    HubErrorKind.NOT_FOUND: "not found",
    HubErrorKind.NAME_TAKEN: "name already taken",
    HubErrorKind.RATE_LIMITED: "rate limited by the Hub",
    HubErrorKind.UNAVAILABLE: "Hub unreachable",
    HubErrorKind.TIMEOUT: "timed out",
    HubErrorKind.INVALID_NAME: "name refused",
    HubErrorKind.INVALID_INPUT: "value refused",
    HubErrorKind.NOT_CONFIRMED: "not confirmed",
    HubErrorKind.BAD_REQUEST: "request refused by the Hub",
}

# The hint a `HubActionError` gets when its call site has no better one: a sentence, shown after the message.
HUB_WHAT_TO_DO = {
    HubErrorKind.AUTH: "Enter a Hugging Face token with write access in the sidebar.",
    HubErrorKind.FORBIDDEN: "Use a token with write access to this namespace.",
    HubErrorKind.PAYMENT: "Pick the static SDK, or upgrade the Hugging Face account.",
    HubErrorKind.NOT_FOUND: "Check the spelling; a private repo is only visible with a token that can read it.",
    HubErrorKind.NAME_TAKEN: "Pick another name, or open the existing one.",
    HubErrorKind.RATE_LIMITED: "Wait a minute, then try again.",
    HubErrorKind.UNAVAILABLE: "Try again shortly.",
    HubErrorKind.TIMEOUT: "Try again in a moment.",
    HubErrorKind.INVALID_NAME: "Fix the name; nothing was sent to the Hub.",
    HubErrorKind.INVALID_INPUT: "Change it and try again; nothing was sent to the Hub.",
    HubErrorKind.NOT_CONFIRMED: "Type it exactly as shown to go ahead.",
    HubErrorKind.BAD_REQUEST: "Check the values and try again.",
}


class Paywall(StrEnum):
    """What a 402 is about, named by the call site: each is worded on its own (hub-docs, see `PAYWALL_WORDS`)."""

    SPACE_COMPUTE = "space_compute"      # creating / duplicating a Gradio or Docker Space
    ZERO_GPU = "zero_gpu"                # hosting one more Space on ZeroGPU
    HARDWARE = "hardware"                # upgraded hardware, billed by the minute
    PRIVATE_STORAGE = "private_storage"  # files pushed beyond the account's private storage


# The 402 words per paywall: (message, hint). `{endpoint}` is the Hub's address. Facts from hub-docs
# (docs/hub/spaces-overview.md, spaces-zerogpu.md, billing.md, storage-limits.md; see tests/replay/hub).
PAYWALL_WORDS: dict[Paywall | None, tuple[str, str]] = {
    Paywall.SPACE_COMPUTE: (
        "Gradio and Docker Spaces run on compute, and creating one needs a paid plan: PRO for a personal account, "
        "Team or Enterprise for an organization. Static Spaces are free.",
        "Pick the static SDK, or upgrade at {endpoint}/pricing. A free personal account can still host up to 2 "
        "Gradio Spaces on ZeroGPU."),
    Paywall.ZERO_GPU: (
        "No more ZeroGPU Spaces can be hosted on this account: a free personal account hosts up to 2, PRO up to 10, "
        "and an organization needs a Team or Enterprise plan.",
        "Move one of the ZeroGPU Spaces to other hardware, or upgrade at {endpoint}/pricing."),
    Paywall.HARDWARE: (
        "Upgraded hardware is billed by the minute, and the account has no way to pay for it: compute is paid by "
        "credit card, separately from any subscription.",
        "Add a credit card in the billing settings ({endpoint}/settings/billing), or keep the free cpu-basic "
        "hardware."),
    Paywall.PRIVATE_STORAGE: (
        "The account's private storage is full (100 GB on a free account; PRO, Team and Enterprise include 1 TB and "
        "bill more by the TB).",
        "Make the Space public, delete large files, or upgrade the storage plan at {endpoint}/pricing."),
    None: (
        "The Hub asks for payment (a paid plan or a payment method) before it can {action}.",
        "See the account's billing settings at {endpoint}/settings/billing."),
}


class HubCallTimeout(HubError, TimeoutError):
    """A Hub request outlived the bound of its call (`core.hub.transport.call_timeout`). Not an httpx2
    timeout on purpose: huggingface_hub's `http_backoff` (preupload, commit) retries those, with sleeps."""


class HubActionError(HubError):
    """One failed Hub action, normalised and redacted. `str(error)` is safe to show a user.

    Without a `hint`, the kind's `HUB_WHAT_TO_DO` sentence is the hint, so every Hub error says what to do.

    >>> HubActionError(HubErrorKind.NOT_FOUND, "Space 'a/b' was not found.").kind
    <HubErrorKind.NOT_FOUND: 'not_found'>
    """

    def __init__(self, kind: HubErrorKind | str, message: str, hint: str = "", *, status: int | None = None,
                 retry_after: float | None = None):
        self.kind = HubErrorKind(kind)
        self.message = message
        self.hint = hint or HUB_WHAT_TO_DO[self.kind]
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()

    def to_dict(self) -> dict:
        """A JSON-ready form for tool results and logs."""
        return {"kind": self.kind.value, "message": self.message, "hint": self.hint, "status": self.status,
                "retry_after": self.retry_after}


def redact_secrets(text: str | None, secrets: Iterable[str | None] = ()) -> str:
    """Replace each given secret (e.g. the token) by `hf_…` + its last 4, and key-shaped strings too."""
    return redact(text, secrets)


def to_hub_error(exc: BaseException, *, endpoint: str, action: str, repo_id: str | None = None,
                 repo_label: str = "Space", token: str | None = None, secrets: Iterable[str | None] = (),
                 new_repo_id: str | None = None, paywall: Paywall | None = None) -> HubActionError:
    """Translate any failure of a Hub call into a `HubActionError`.

    `action` is a short verb phrase ("create the Space"), `repo_id` what it acted on, `repo_label` its
    kind in words ("Space", "Model"); `token` and `secrets` are redacted from anything the server said.
    `new_repo_id` is the id an action tries to claim (create, duplicate): a 409 then means it is taken.
    `paywall` says what a 402 would be about for this action (None: a plain "payment required").
    """
    if isinstance(exc, HubActionError):
        return exc
    hidden = [token, *secrets]
    settings = f"{endpoint.rstrip('/')}/settings/tokens"
    what = f"{repo_label} '{repo_id}'" if repo_id else None
    if isinstance(exc, InvalidRepoIdError):
        return HubActionError(HubErrorKind.INVALID_NAME, redact_secrets(str(exc), hidden),
                              "Nothing was sent to the Hub.")
    if isinstance(exc, HfHubHTTPError):
        return _from_http_error(exc, endpoint=endpoint, action=action, what=what, new_repo_id=new_repo_id,
                                settings=settings, token=token, hidden=hidden, paywall=paywall)
    if isinstance(exc, LocalTokenNotFoundError):
        return _auth_missing(action, settings)
    if isinstance(exc, OfflineModeIsEnabled):
        return HubActionError(HubErrorKind.UNAVAILABLE, "The Hub can't be reached: offline mode is on.",
                              "Unset HF_HUB_OFFLINE to talk to the Hub.")
    if isinstance(exc, (httpx2.TimeoutException, HubCallTimeout)):
        return HubActionError(HubErrorKind.TIMEOUT, f"The Hugging Face Hub did not answer in time, so we could "
                              f"not {action}.", "Try again in a moment.")
    if isinstance(exc, (httpx2.TransportError, ConnectionError)):
        return HubActionError(HubErrorKind.UNAVAILABLE, f"Could not reach the Hugging Face Hub at "
                              f"{endpoint} to {action}.", "Check the network and try again shortly.")
    if isinstance(exc, TimeoutError):
        return HubActionError(HubErrorKind.TIMEOUT, redact_secrets(str(exc), hidden) or
                              f"Timed out while trying to {action}.", "Check the logs, then wait again.")
    if isinstance(exc, json.JSONDecodeError):
        return HubActionError(HubErrorKind.UNAVAILABLE, f"The Hub answered with something unexpected, so we "
                              f"could not {action}.", "Try again shortly.")
    if isinstance(exc, ValueError) and isinstance(exc.__cause__, BadRequestError):
        return _metadata_refused(exc, exc.__cause__, action=action, hidden=hidden)
    if isinstance(exc, ValueError):
        return HubActionError(HubErrorKind.INVALID_INPUT, redact_secrets(str(exc), hidden),
                              "Nothing was sent to the Hub.")
    return HubActionError(HubErrorKind.UNAVAILABLE, f"Could not {action}: unexpected "
                          f"{type(exc).__name__}.", "Try again; if it persists, check the app logs.")


def _from_http_error(exc: HfHubHTTPError, *, endpoint: str, action: str, what: str | None,
                     new_repo_id: str | None, settings: str, token: str | None, hidden: list[str | None],
                     paywall: Paywall | None = None) -> HubActionError:
    status = exc.response.status_code if exc.response is not None else None
    if status == 401 and not token:
        # Over https huggingface_hub turns an anonymous 401 on /api/{models,datasets,spaces}/… into
        # RepositoryNotFoundError; the Hub answers so for private, gated and missing repos alike.
        return _sign_in(action, what, settings, status=status)
    if isinstance(exc, GatedRepoError):  # a subclass of RepositoryNotFoundError, but the repo exists
        return HubActionError(HubErrorKind.FORBIDDEN, f"{what or 'This repo'} is gated: access must be granted "
                              "first.", "Request access on its Hub page, then use a token of that account.",
                              status=status)
    if (isinstance(exc, RepositoryNotFoundError) or status == 404) and what is None:
        return HubActionError(HubErrorKind.NOT_FOUND, f"The Hub could not find what was asked, so we could not "
                              f"{action}.", "Check the values and try again.", status=status)
    if isinstance(exc, RepositoryNotFoundError) or status == 404:
        return HubActionError(HubErrorKind.NOT_FOUND, f"{what} was not found.",
                              "Check the spelling; a private repo is only visible with a token that can read it.",
                              status=status)
    if status == 401:
        if not token:
            return _auth_missing(action, settings, status=status)
        return HubActionError(HubErrorKind.AUTH, f"The Hugging Face token ({mask(token)}) was refused, so we "
                              f"could not {action}.", f"Create a new token at {settings} and enter it in the "
                              "sidebar.", status=status)
    if status == 403:
        return HubActionError(HubErrorKind.FORBIDDEN, f"The Hugging Face token lacks the scope to {action} "
                              "(it needs write access to this namespace).",
                              f"Create a token with write access at {settings}.", status=status)
    if status == 402:
        message, hint = PAYWALL_WORDS[paywall]
        said = _server_words(exc, hidden)
        base = endpoint.rstrip("/")
        return HubActionError(HubErrorKind.PAYMENT, message.format(action=action, endpoint=base)
                              + (f" The Hub said: {_sentence(said)}" if said else ""),
                              hint.format(action=action, endpoint=base), status=status)
    if status == 409 and new_repo_id:
        return HubActionError(HubErrorKind.NAME_TAKEN, f"The name '{new_repo_id}' is already taken, so we "
                              f"could not {action}.",
                              "Pick another name, or open the existing one.", status=status)
    if status == 429:
        wait = retry_after_seconds(exc.response)
        when = f"retry after {wait:g} s" if wait is not None else "retry in a minute"
        return HubActionError(HubErrorKind.RATE_LIMITED, f"The Hub is rate limiting these requests; {when}.",
                              "Searches are cached briefly, so repeating one is free.", status=status,
                              retry_after=wait)
    if status is not None and status >= 500:
        return HubActionError(HubErrorKind.UNAVAILABLE, f"The Hugging Face Hub is unavailable right now "
                              f"(HTTP {status}), so we could not {action}.", "Try again shortly.", status=status)
    said = _server_words(exc, hidden)
    return HubActionError(HubErrorKind.BAD_REQUEST, f"The Hub refused to {action} (HTTP {status})"
                          + (f": {said}" if said else "."), "Check the values and try again.", status=status)


def _sign_in(action: str, what: str | None, settings: str, *, status: int | None) -> HubActionError:
    about = (f"{what} is private, gated or missing, and the Hub only tells which to a signed-in user"
             if what else "the Hub answers this only to a signed-in user")
    return HubActionError(HubErrorKind.AUTH, f"Sign in: this needs a token ({about}), so we could not {action}.",
                          f"Create a token at {settings} and enter it in the sidebar.", status=status)


def _metadata_refused(exc: ValueError, cause: BadRequestError, *, action: str,
                      hidden: list[str | None]) -> HubActionError:
    """huggingface_hub's `ValueError("Invalid metadata in README.md.\n- …")` raised from the Hub's
    `validate-yaml` 400: the Hub refused the front matter, and its own messages say why."""
    said: list[str] = []
    with contextlib.suppress(ValueError, AttributeError):   # not JSON, or not the documented shape
        said = [str(e.get("message")) for e in cause.response.json().get("errors", []) if isinstance(e, dict)]
    if not said:
        said = [line.lstrip("- ") for line in str(exc).splitlines()[1:] if line.strip()]
    words = " ".join(redact_secrets("; ".join(said), hidden).split())[:300]
    return HubActionError(HubErrorKind.BAD_REQUEST, "The Hub refused the README.md front matter, so we could not "
                          f"{action}" + (f": {words}" if words else "."),
                          "Fix README.md's front matter (see the Spaces configuration reference) and push again.",
                          status=cause.response.status_code if cause.response is not None else 400)


def _auth_missing(action: str, settings: str, *, status: int | None = None) -> HubActionError:
    return HubActionError(HubErrorKind.AUTH, f"A Hugging Face token is needed to {action}, and none is set.",
                          f"Create a token with write access at {settings} and enter it in the sidebar.",
                          status=status)


def retry_after_seconds(response: httpx2.Response | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a 429's `Retry-After` (seconds or HTTP date), else from `RateLimit` headers."""
    if response is None:
        return None
    raw = response.headers.get("retry-after")
    if raw:
        raw = raw.strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                parsed = None
            if parsed is not None:
                return max(0.0, float(round(parsed.timestamp() - (now if now is not None else time.time()))))
    try:
        from huggingface_hub.utils import parse_ratelimit_headers

        info = parse_ratelimit_headers(response.headers)
    except Exception:  # a malformed header must not hide the 429 itself
        info = None
    return float(info.reset_in_seconds) if info is not None and info.remaining == 0 else None


def _server_words(exc: HfHubHTTPError, hidden: list[str | None], limit: int = 200) -> str:
    said = exc.server_message or ""
    said = " ".join(redact_secrets(said, hidden).split())
    return said if len(said) <= limit else said[: limit - 1] + "…"


def _sentence(text: str) -> str:
    """The Hub's words as a sentence of ours: what follows them starts a new one."""
    text = text.strip()
    return text if text.endswith((".", "!", "?", "…")) else text + "."
