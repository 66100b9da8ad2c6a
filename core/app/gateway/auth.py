"""Who is calling the API, and what it may do.

    caller = authenticate(request, svc)          # raises ApiError(401) when it may not call at all
    caller.require("spaces-write")               # raises ApiError(403) without the scope
    caller.admit_chat(svc)                       # the token's budget: requests a minute, tokens and USD a day

Three kinds of caller:
* **anonymous** (no bearer): only while no shared key is configured (demo mode), so a newcomer can try
  the API with curl. Scopes: chat and spaces-read; nothing can reach a shared key.
* **token** (`Bearer sos_…`): a console access token created on the API tokens page; its scopes,
  providers and budget apply. The operator token (`SPACES_OS_OPERATOR_TOKEN`) has every scope.
* **byok** (`Bearer sk-or-…`, `Bearer hf_…`): a provider key, as with OpenRouter's own API. It goes to the
  provider its shape belongs to (`key_owner`), as BYOK: never the shared key, never another provider. An
  `hf_…` token is also the caller's own Hub token, so it may read and change the caller's own Spaces.
Anything that would use a shared key needs a token, locally too: Streamlit listens on every interface.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from core.app.gateway.errors import ApiError
from core.app.gateway.tokens import PREFIX, SCOPES, AccessToken, RequestWindow, TokenService
from core.app.session import SessionContext, proxy_client_address
from core.llm.keys import session_hash
from core.llm.providers import key_owner

if TYPE_CHECKING:
    from core.app.services import Services

ANONYMOUS_SCOPES = ("chat", "spaces-read")
BYOK_SCOPES = {"huggingface": SCOPES}       # an HF token acts on its own Spaces; other provider keys only chat


@dataclass
class Caller:
    kind: str                                   # anonymous | token | byok | operator
    identity: str                               # recorded only as a hash
    scopes: tuple[str, ...]
    keys: dict[str, str] = field(default_factory=dict, repr=False)
    grant: AccessToken | None = None
    use_shared: bool = True

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ApiError(403, f"This {'token' if self.kind == 'token' else 'caller'} lacks the `{scope}` scope "
                                f"(it has: {', '.join(self.scopes) or 'none'}).", "permission_error", "missing_scope")

    def context(self, svc: Services) -> SessionContext:
        return SessionContext.ephemeral(self.identity, keys=self.keys, hosted=svc.hosted,
                                        operator=self.kind == "operator")

    def overrides(self, svc: Services) -> dict[str, dict[str, Any]] | None:
        """Providers this caller may not use, switched off for its requests; a BYOK caller's provider is
        pinned to its key (`always_use_this_key`), so even a background task never falls back to the shared
        key (a direct request also passes `use_shared=False`)."""
        allowed = set(self.keys) if self.kind == "byok" else set(self.grant.providers) if self.grant else set()
        if not allowed:
            return None
        off: dict[str, dict[str, Any]] = {name: {"enabled": False} for name in svc.router.providers
                                          if name not in allowed and name != "demo"}
        if self.kind == "byok":
            off.update({name: {"always_use_this_key": True} for name in self.keys})
        return off

    def switched_off(self, svc: Services) -> set[str]:
        """The providers this caller may not use."""
        return {name for name, o in (self.overrides(svc) or {}).items() if o.get("enabled") is False}

    def check_provider(self, provider: str | None, svc: Services) -> None:
        if provider and provider in self.switched_off(svc):
            raise ApiError(403, f"This caller may not use provider `{provider}`.", "permission_error",
                           "provider_not_allowed")

    def admit_chat(self, svc: Services) -> None:
        """The token's budget, checked before the request reaches a provider."""
        self.require("chat")
        grant = self.grant
        if grant is None:
            return
        window = RequestWindow(svc.store)      # counted in the database: the limit holds across replicas
        if grant.requests_per_minute and (wait := window.admit(grant.id, grant.requests_per_minute)) is not None:
            raise ApiError(429, f"This token's limit of {grant.requests_per_minute} requests a minute is reached; "
                                f"try again in {wait:.0f} s.", "rate_limit_error", "rate_limited",
                           headers={"Retry-After": str(max(1, round(wait)))})
        if grant.tokens_per_day or grant.usd_per_day:
            tokens, usd = svc.store.token_spend(session_hash(self.identity), since=time.time() - 86_400)
            if grant.tokens_per_day and tokens >= grant.tokens_per_day:
                raise ApiError(429, f"This token's budget of {grant.tokens_per_day:,} tokens a day is spent "
                                    f"({tokens:,} in the last 24 h).", "insufficient_quota", "budget_exceeded")
            if grant.usd_per_day and usd >= grant.usd_per_day:
                raise ApiError(429, f"This token's budget of ${grant.usd_per_day:.2f} a day is spent "
                                    f"(${usd:.4f} in the last 24 h).", "insufficient_quota", "budget_exceeded")


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authenticate(request: Request, svc: Services) -> Caller:
    """The caller of this request; ApiError(401) when it may not call."""
    given = bearer(request) or request.headers.get("x-api-key") or request.headers.get("api-key")
    if not given:
        return _anonymous(request, svc)
    if svc.operator_token and hmac.compare_digest(given.encode(), svc.operator_token.encode()):
        return Caller("operator", "api-operator", SCOPES)
    if given.startswith(PREFIX):
        tokens = TokenService(svc.store)
        grant = tokens.verify(given)
        if grant is None:
            raise _unauthorized("This access token is unknown, revoked or expired.")
        tokens.record_use(grant)
        return Caller("token", grant.identity, grant.scopes, grant=grant)
    owner = key_owner(given)
    names = [p.name for p in svc.router.providers.values() if owner is not None and p.config.kind == owner.kind]
    if names:
        fingerprint = hashlib.sha256(given.encode()).hexdigest()[:16]
        return Caller("byok", f"api-byok:{fingerprint}", BYOK_SCOPES.get(owner.kind, ("chat",)),
                      keys={names[0]: given}, use_shared=False)
    if not svc.router.is_demo():
        raise _unauthorized("This is not a console access token (`sos_…`), and its shape is no configured "
                            "provider's key (OpenRouter `sk-or-…`, Hugging Face `hf_…`).")
    return _anonymous(request, svc)      # demo mode: a stray key (e.g. the openai SDK's dummy) changes nothing


def _anonymous(request: Request, svc: Services) -> Caller:
    if svc.router is None:
        raise ApiError(503, svc.config_error or "The provider config could not be loaded.", "server_error",
                       "config_error")
    if not svc.router.is_demo():
        raise _unauthorized("This console has shared provider keys, so its API needs a console access token "
                            "(create one on the API tokens page) or your own provider key as the bearer.")
    peer = request.client.host if request.client else None
    who = proxy_client_address(request.headers, peer) if svc.hosted else peer
    return Caller("anonymous", f"api-anon:{who or 'local'}", ANONYMOUS_SCOPES)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, "authentication_error", "invalid_api_key",
                    headers={"WWW-Authenticate": 'Bearer realm="spaces-os"'})
