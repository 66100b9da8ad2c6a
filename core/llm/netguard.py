"""SSRF guard for endpoints a visitor types in (hosted mode).

A visitor's URL must be https and must not reach loopback, private, link-local, shared, reserved or
cloud-metadata addresses. Checking the URL once is not enough (DNS rebinding: the name resolves to a
public address when checked and to 127.0.0.1 when connected), so the guard sits in the HTTP client's
network backend: every connection resolves the name itself, checks every address, and connects to
the address it checked. TLS still verifies the certificate against the hostname.

The operator's own config file is trusted and does not go through this guard. Names a visitor
types where no address belongs (a model id) go through `check_name`: a URL there is refused.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlparse

import httpcore
import httpx

from core.errors import SpacesOSError

Resolver = Callable[[str, int], list[str]]
# Addresses the cloud metadata services answer on, beyond the link-local range.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
             ipaddress.ip_address("100.100.100.200")}


class BlockedURL(SpacesOSError, ValueError):
    """A visitor-supplied URL that is not allowed; the message says why in plain words."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def address_problem(address: str) -> str | None:
    """Why connecting to this IP is not allowed, or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return f"{ip} is a cloud metadata address"
    for flag, words in (("is_loopback", "loopback"), ("is_private", "private"), ("is_link_local", "link-local"),
                        ("is_multicast", "multicast"), ("is_reserved", "reserved"),
                        ("is_unspecified", "unspecified")):
        if getattr(ip, flag):
            return f"{ip} is a {words} address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"):
        return f"{ip} is a shared (carrier-grade NAT) address"
    return None


def check_url(url: str) -> str:
    """Static checks on a visitor URL (scheme, host, no credentials); returns it stripped."""
    url = (url or "").strip()
    parsed = urlparse(url)
    if parsed.scheme != "https":
        raise BlockedURL("Only https:// endpoints can be added here.")
    if not parsed.hostname:
        raise BlockedURL("The URL has no host name.")
    if parsed.username or parsed.password:
        raise BlockedURL("Put the key in the key field, not in the URL.")
    host = parsed.hostname
    try:
        problem = address_problem(host)        # a literal IP in the URL
    except ValueError:
        problem = None
    if problem and "not an IP" not in problem:
        raise BlockedURL(f"That endpoint is not allowed: {problem}.")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise BlockedURL(f"That endpoint is not allowed: {host} is a local name.")
    return url


_URL_LIKE = re.compile(r"^\s*(?:[a-z][a-z0-9+.\-]*:)?//|://", re.I)
_NOT_IN_NAMES = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
MAX_NAME_LENGTH = 200


def check_name(value: str, what: str = "a name") -> str:
    """A name a visitor typed where the code expects a name (a model id), never an address: a URL,
    whitespace or control characters are refused in plain words. Returns the name."""
    if not isinstance(value, str) or not value:
        raise BlockedURL(f"{what[0].upper()}{what[1:]} cannot be empty.")
    if _URL_LIKE.search(value):
        raise BlockedURL(f"That is a URL, and {what} is never an endpoint: type a model id such as `org/model`, "
                         "or add the endpoint as a provider of its own.")
    if _NOT_IN_NAMES.search(value):
        raise BlockedURL(f"{what[0].upper()}{what[1:]} cannot contain spaces or control characters.")
    if len(value) > MAX_NAME_LENGTH:
        raise BlockedURL(f"{what[0].upper()}{what[1:]} is longer than {MAX_NAME_LENGTH} characters.")
    return value


def resolve_checked(host: str, port: int, resolver: Resolver | None = None) -> str:
    """Resolve `host` and return an allowed address; refuse if ANY address is not allowed."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses = [str(literal)]
    except ValueError:
        try:
            addresses = (resolver or system_resolver)(host, port)
        except OSError as e:   # not a policy problem: the host is simply unreachable
            raise httpcore.ConnectError(f"{host} could not be resolved ({e.__class__.__name__})") from None
    if not addresses:
        raise BlockedURL(f"{host} has no address.")
    for address in addresses:
        if problem := address_problem(address):
            raise BlockedURL(f"That endpoint is not allowed: {host} resolves to {problem}.")
    return addresses[0]


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore network backend that checks every connection's resolved address before connecting."""

    def __init__(self, resolver: Resolver | None = None, inner: httpcore.NetworkBackend | None = None):
        self.resolver = resolver
        self.inner = inner or httpcore.SyncBackend()
        self.connected: list[str] = []

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        address = resolve_checked(host, port, self.resolver)
        self.connected.append(address)
        return self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                      socket_options=socket_options)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        raise BlockedURL("Unix sockets are not allowed.")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose connections all go through `GuardedBackend`; no proxies from the environment."""

    def __init__(self, resolver: Resolver | None = None, **kwargs):
        super().__init__(**kwargs)
        self.backend = GuardedBackend(resolver)
        self._pool = httpcore.ConnectionPool(ssl_context=self._pool._ssl_context, max_connections=20,
                                             max_keepalive_connections=10, keepalive_expiry=5.0,
                                             network_backend=self.backend)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https":
            raise BlockedURL("Only https:// endpoints can be added here.")
        try:
            return super().handle_request(request)
        except httpx.ConnectError as e:
            if isinstance(e.__cause__, BlockedURL) or isinstance(e.__context__, BlockedURL):
                raise BlockedURL(str(e.__cause__ or e.__context__)) from None
            raise
