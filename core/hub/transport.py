"""The one HTTP client every Hub call goes through: no cookie jar, and no redirect to another origin.

    from core.hub import transport
    transport.install()            # once, by the composition root (`core.app.services.build_services`)
    HubClient(endpoint, token).search_spaces("chat")   # HfApi and our own requests now use `hub_http_client()`

huggingface_hub sends every call (`HfApi`'s and ours through `get_session()`) on one process-wide
`httpx2.Client`. Its default client keeps a cookie jar and follows any redirect. On a console shared by
strangers, a cookie one visitor's call received would then ride on the next visitor's request, and a
redirect from the Hub would carry a request (its body, e.g. a secret's value, and its headers) to another
host. httpx2 drops `Authorization` on such a hop, except on an http → https upgrade of the same host.

The client built here:
- keeps no cookies: one set by any answer is never sent on a later request, by anyone;
- follows a redirect only to the origin (scheme, host, port) of the request that got it, e.g. a renamed
  repo; any other raises `HubActionError` (kind UNAVAILABLE, with the 3xx status) before anything is sent
  there. A call made with `follow_redirects=False` gets its 3xx as before;
- keeps huggingface_hub's own request hook (`hf_request_event_hook`: offline mode, request ids);
- bounds every request sent inside `call_timeout(seconds)` that has no timeout of its own: most `HfApi`
  methods (whoami, semantic search, papers, runtime, create, commit, restart…) take none, and the shared
  client's default is none, so a stalled Hub would block them for ever. A request that times out there
  raises `HubCallTimeout` at once, which huggingface_hub's backoff does not retry.
Nothing async calls the Hub, so the async factory is left as is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpx2
from huggingface_hub.utils import get_session, set_client_factory
from huggingface_hub.utils._http import hf_request_event_hook  # not re-exported

from core.hub.errors import HubActionError, HubCallTimeout, HubErrorKind
from core.llm.keys import redact

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Whether the request being sent follows redirects: a caller that reads the 3xx itself keeps it.
_FOLLOWING: ContextVar[bool] = ContextVar("hub_request_follows_redirects", default=False)
_INSTALL_LOCK = threading.Lock()
# Seconds a request sent in this context may take per connect/read/write when its caller set no timeout.
_CALL_TIMEOUT: ContextVar[float | None] = ContextVar("hub_call_timeout", default=None)


@contextmanager
def call_timeout(seconds: float | None) -> Iterator[None]:
    """Bound the Hub requests sent inside the block (by this thread) that carry no timeout of their own.

    >>> with call_timeout(10.0):
    ...     pass   # HfApi(...).whoami() here raises httpx2.TimeoutException after 10 s of silence
    """
    mark = _CALL_TIMEOUT.set(seconds)
    try:
        yield
    finally:
        _CALL_TIMEOUT.reset(mark)


class _NoCookieJar(CookieJar):
    """A jar that stores nothing, so no cookie outlives the answer that set it."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class HubHttpClient(httpx2.Client):
    """An `httpx2.Client` that tells its response hook whether the request being sent follows redirects."""

    def send(self, request: httpx2.Request, *, follow_redirects: Any = httpx2.USE_CLIENT_DEFAULT,
             **kwargs: Any) -> httpx2.Response:
        follows = self.follow_redirects if follow_redirects is httpx2.USE_CLIENT_DEFAULT else bool(follow_redirects)
        bound = _CALL_TIMEOUT.get()
        if bound is not None and _unbounded(request.extensions.get("timeout")):
            request.extensions["timeout"] = httpx2.Timeout(bound).as_dict()
        mark = _FOLLOWING.set(follows)
        try:
            return super().send(request, follow_redirects=follow_redirects, **kwargs)
        except httpx2.TimeoutException as exc:
            if bound is None:
                raise
            # Leave the call now: huggingface_hub would retry an httpx2 timeout five times, with sleeps.
            raise HubCallTimeout(f"The Hub did not answer within {bound:g} s.") from exc
        finally:
            _FOLLOWING.reset(mark)


def _unbounded(timeout: object) -> bool:
    """True when a request's timeout extension (a dict of connect/read/write/pool) bounds nothing."""
    return not isinstance(timeout, dict) or all(value is None for value in timeout.values())


def refuse_cross_origin_redirect(response: httpx2.Response) -> None:
    """Response hook: a redirect that would be followed to another origin raises `HubActionError` instead.

    Only `scheme://host:port` of the target is named: a signed path or query may hold a secret."""
    if not response.has_redirect_location or not _FOLLOWING.get():
        return
    try:
        target = response.request.url.join(response.headers["Location"])
    except httpx2.InvalidURL:
        return  # httpx2 itself refuses a malformed Location (RemoteProtocolError)
    if origin(target) != origin(response.request.url):
        raise HubActionError(HubErrorKind.UNAVAILABLE,
                             f"The Hub at {origin_text(response.request.url)} answered with a redirect (HTTP "
                             f"{response.status_code}) to another site, {redact(origin_text(target))}; it was not "
                             "followed, so nothing was sent there.",
                             "If the Hub address is a proxy or a mirror, point it at the server that answers the "
                             "Hub API itself.", status=response.status_code)


def hub_http_client() -> httpx2.Client:
    """The client huggingface_hub shares for every Hub call once `install()` ran (its `set_client_factory`)."""
    return HubHttpClient(event_hooks={"request": [hf_request_event_hook],
                                      "response": [refuse_cross_origin_redirect]},
                         follow_redirects=True, timeout=None, cookies=_NoCookieJar())


def install() -> None:
    """Make huggingface_hub build `hub_http_client()`. Idempotent: once installed, a later call keeps the
    live client (replacing it would close it under another thread's request)."""
    with _INSTALL_LOCK:
        if not isinstance(get_session(), HubHttpClient):
            set_client_factory(hub_http_client)


def origin(url: httpx2.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port), with the scheme's default port when none is written."""
    return url.scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(url.scheme)


def origin_text(url: httpx2.URL) -> str:
    """`scheme://host`, plus `:port` when it is not the scheme's default."""
    scheme, host, port = origin(url)
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{scheme}://{host}:{port}"
