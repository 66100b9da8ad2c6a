"""Every API failure in OpenAI's error shape, `{"error": {"message", "type", "code"}}`, with its status.

    raise ApiError(403, "This token lacks the `spaces-write` scope.", "permission_error", "missing_scope")
    api_error(exc)          # any SpacesOSError -> ApiError: the router's kinds decide the status

The router's `ErrorKind` of the last attempt decides, never a raw status: a refused key is 401, no
credit 402, a rate limit 429, a request a provider refused 400, anything upstream that broke 502.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from core.errors import AllProvidersFailed, ErrorKind, SpacesOSError, StreamInterrupted, TooManyTasks
from core.hub.errors import HubActionError, HubErrorKind


class ApiError(SpacesOSError):
    """An HTTP API answer in OpenAI's error shape: `.status`, and `.body()` / `.response()` to send."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": None}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


# ErrorKind of the last failed attempt -> (status, OpenAI error type)
_PROVIDER_STATUS = {
    ErrorKind.AUTH: (401, "authentication_error"),
    ErrorKind.PAYMENT: (402, "insufficient_quota"),
    ErrorKind.RATE_LIMITED: (429, "rate_limit_error"),
    ErrorKind.BAD_REQUEST: (400, "invalid_request_error"),
    ErrorKind.BLOCKED: (403, "permission_error"),
    ErrorKind.TIMEOUT: (504, "upstream_error"),
}
_HUB_STATUS = {
    HubErrorKind.AUTH: 401, HubErrorKind.FORBIDDEN: 403, HubErrorKind.PAYMENT: 402, HubErrorKind.NOT_FOUND: 404,
    HubErrorKind.NAME_TAKEN: 409, HubErrorKind.RATE_LIMITED: 429, HubErrorKind.UNAVAILABLE: 502,
    HubErrorKind.TIMEOUT: 504, HubErrorKind.INVALID_NAME: 400, HubErrorKind.INVALID_INPUT: 400,
    HubErrorKind.NOT_CONFIRMED: 400, HubErrorKind.BAD_REQUEST: 400,
}


def provider_failure(outcome: str | None, message: str, headers: dict[str, str] | None = None) -> ApiError:
    """The answer to a request whose last provider attempt ended in `outcome` (an `ErrorKind` value)."""
    kind = ErrorKind(outcome) if outcome in ErrorKind.__members__.values() else None
    status, type_ = _PROVIDER_STATUS.get(kind, (502, "upstream_error")) if kind else (502, "upstream_error")
    return ApiError(status, message, type_, kind.value if kind else "upstream_error", headers)


def api_error(exc: BaseException) -> ApiError:
    """The API's answer to an exception raised on purpose somewhere below."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AllProvidersFailed | StreamInterrupted):
        failed = [a for a in exc.attempts if a.outcome in ErrorKind.__members__.values()]
        if not failed:      # refused before any call: unknown provider or model, a spent budget
            spent = "used up" in str(exc)
            return ApiError(429 if spent else 400, str(exc), "rate_limit_error" if spent else "invalid_request_error",
                            "budget_exceeded" if spent else "no_provider")
        return provider_failure(failed[-1].outcome, str(exc))
    if isinstance(exc, HubActionError):
        return ApiError(_HUB_STATUS.get(exc.kind, 502), str(exc), "hub_error", exc.kind.value)
    if isinstance(exc, TooManyTasks):
        return ApiError(429, str(exc), "rate_limit_error", "too_many_tasks", {"Retry-After": "10"})
    if isinstance(exc, ValueError):
        return ApiError(400, str(exc), "invalid_request_error", "invalid_value")
    if isinstance(exc, LookupError):
        return ApiError(404, str(exc), "not_found_error", "not_found")
    if isinstance(exc, SpacesOSError):
        return ApiError(400, str(exc), "invalid_request_error", type(exc).__name__)
    return ApiError(500, f"Internal error ({type(exc).__name__}).", "server_error", "internal")
