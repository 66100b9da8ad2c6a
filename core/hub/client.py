"""Hub explorer: search the Hub and read the details of one repo, as table-ready rows.

`HubClient(endpoint, token)` is built per session by the caller (the endpoint comes from config,
the token is the session's HF token else the shared one). Nothing here reads the environment or
keeps a token beyond the client object; every failure surfaces as `core.hub.errors.HubActionError`.

Repo listings (models, datasets, Spaces by keyword) are fetched page by page here rather than through
`HfApi.list_*`, whose built-in backoff sleeps through 429s and network errors for up to minutes: a
page must answer within seconds and tell the user when to retry.

    hub = HubClient("https://huggingface.co", token=None, cache=SearchCache())
    page = hub.search_models("llama", task="text-generation", sort="downloads", page=2)
    page.items[0]["id"], page.has_next
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from core.hub import transport
from core.hub.errors import HubActionError, HubErrorKind, Paywall, to_hub_error
from core.hub.names import RepoKind, hub_page_url, validate_repo_id
from core.llm.keys import mask
from core.llm.providers.huggingface import HuggingFaceProvider

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_ROUTER_URL = HuggingFaceProvider.default_base_url
LIBRARY_NAME = "spaces-os"

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE = 50
DEFAULT_TIMEOUT = 10.0
# The Hub's paper search answers at most this many papers, whatever `limit` asks (hf-mcp-server
# `PAPER_SEARCH_LIMIT`, see tests/replay/hub): pages beyond it cannot be served.
PAPER_SEARCH_CAP = 120

SPACE_SDKS = ("gradio", "docker", "static")
# UI sort names → the Hub's query values.
SPACE_SORTS = {"trending": "trendingScore", "likes": "likes", "created": "createdAt", "modified": "lastModified"}
REPO_SORTS = {**SPACE_SORTS, "downloads": "downloads"}

# Fields asked of the Hub for a Space row: enough for title, state and hardware in one request.
_SPACE_ROW_EXPAND = ("author", "cardData", "lastModified", "likes", "private", "runtime", "sdk", "tags")
_MODEL_DETAIL_EXPAND = ("author", "cardData", "downloads", "gated", "inferenceProviderMapping", "lastModified",
                        "library_name", "likes", "pipeline_tag", "private", "siblings", "tags")
_KIND_LABEL = {"space": "Space", "model": "Model", "dataset": "Dataset"}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SearchPage:
    """One page of search results; `items` are flat dicts ready for a table (each has `id` or `url`)."""

    kind: str
    page: int
    page_size: int
    items: list[dict[str, Any]]
    has_next: bool

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


@dataclass(frozen=True)
class RepoFile:
    path: str
    size: int | None = None


@dataclass(frozen=True)
class ProviderOffer:
    """One inference provider serving a model; prices are USD per 1M tokens, None when unknown."""

    provider: str
    provider_model_id: str | None
    status: str | None
    task: str | None = None
    price_input: float | None = None
    price_output: float | None = None
    context_length: int | None = None
    supports_tools: bool | None = None


@dataclass(frozen=True)
class ModelDetails:
    id: str
    url: str
    author: str | None
    pipeline_tag: str | None
    library: str | None
    likes: int | None
    downloads: int | None
    license: str | None
    gated: Any
    private: bool | None
    last_modified: str | None
    tags: list[str] = field(default_factory=list)
    card: dict[str, Any] = field(default_factory=dict)
    files: list[RepoFile] = field(default_factory=list)
    providers: list[ProviderOffer] = field(default_factory=list)
    prices_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


@dataclass(frozen=True)
class DatasetDetails:
    id: str
    url: str
    author: str | None
    likes: int | None
    downloads: int | None
    license: str | None
    gated: Any
    private: bool | None
    last_modified: str | None
    description: str | None
    tags: list[str] = field(default_factory=list)
    card: dict[str, Any] = field(default_factory=dict)
    files: list[RepoFile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


@dataclass(frozen=True)
class SpaceDetails:
    id: str
    url: str
    author: str | None
    title: str | None
    sdk: str | None
    stage: str | None
    hardware: str | None
    requested_hardware: str | None
    host: str | None
    likes: int | None
    private: bool | None
    last_modified: str | None
    tags: list[str] = field(default_factory=list)
    card: dict[str, Any] = field(default_factory=dict)
    files: list[RepoFile] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


# --------------------------------------------------------------------------- per-session cache


class SearchCache:
    """A small TTL cache of search pages. Keep one per session (e.g. in `st.session_state`), never global.

    >>> cache = SearchCache(ttl=60); cache.put(("models", "q"), "page"); cache.get(("models", "q"))
    'page'
    """

    def __init__(self, ttl: float = 60.0, *, max_entries: int = 128, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, value = entry
            if self._clock() - stored_at > self.ttl:
                del self._entries[key]
                return None
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = (self._clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# --------------------------------------------------------------------------- client


class HubClient:
    """Hub search and details for one session. Builds a fresh `HfApi` per call with this token."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, token: str | None = None, *,
                 router_url: str | None = None, cache: SearchCache | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        self.endpoint = endpoint.rstrip("/")
        # The public router prices public-Hub models; for another endpoint (a mirror, a private Hub, a test
        # fake) prices are fetched only from a router named explicitly, so nothing reaches out unasked.
        if router_url is None and self.endpoint == DEFAULT_ENDPOINT:
            router_url = DEFAULT_ROUTER_URL
        self.router_url = router_url.rstrip("/") if router_url else None
        self.cache = cache
        self.timeout = timeout
        self._token = token or None

    def __repr__(self) -> str:
        return f"HubClient(endpoint={self.endpoint!r}, token={mask(self._token)!r})"

    # ----- plumbing shared with SpaceManager

    @property
    def has_token(self) -> bool:
        return self._token is not None

    @property
    def token(self) -> str | None:
        """The token in use, for building other Hub clients; never display or log it."""
        return self._token

    def api(self) -> HfApi:
        """A fresh `HfApi` for one call site; `token=False` so no locally saved token is picked up."""
        return HfApi(endpoint=self.endpoint, token=self._token or False, library_name=LIBRARY_NAME)

    def page_url(self, repo_id: str, kind: RepoKind = "space") -> str:
        return hub_page_url(self.endpoint, repo_id, kind=kind)

    def error(self, exc: BaseException, *, action: str, repo_id: str | None = None, kind: RepoKind = "space",
              secrets: Sequence[str | None] = (), new_repo_id: str | None = None,
              paywall: Paywall | None = None) -> HubActionError:
        return to_hub_error(exc, endpoint=self.endpoint, action=action, repo_id=repo_id,
                            repo_label=_KIND_LABEL[kind], token=self._token, secrets=secrets,
                            new_repo_id=new_repo_id, paywall=paywall)

    @contextmanager
    def calling(self, action: str, *, repo_id: str | None = None, kind: RepoKind = "space",
                secrets: Sequence[str | None] = (), new_repo_id: str | None = None,
                paywall: Paywall | None = None, bounded: bool = True) -> Iterator[None]:
        """Run Hub calls; turn any failure into a redacted `HubActionError` with no chained original.

        Each request sent inside waits at most `self.timeout` s for the Hub (connect, each read), unless
        its caller set its own timeout; `bounded=False` leaves that to the caller (a log stream). A 402 is
        worded for `paywall`."""
        transport.install()   # the bound lives in the Hub client; idempotent
        try:
            with transport.call_timeout(self.timeout if bounded else None):
                yield
        except HubActionError:
            raise
        except (httpx2.HTTPError, httpx2.InvalidURL, OSError, TimeoutError, ValueError) as exc:
            raise self.error(exc, action=action, repo_id=repo_id, kind=kind, secrets=secrets,
                             new_repo_id=new_repo_id, paywall=paywall) from None

    def whoami(self) -> str:
        """The user name behind the token; refuses before sending when there is no token."""
        if not self.has_token:
            raise HubActionError(HubErrorKind.AUTH, "A Hugging Face token is needed to list your Spaces, and "
                                 "none is set.", f"Create one at {self.endpoint}/settings/tokens and enter it "
                                 "in the sidebar.")
        with self.calling("read the token's account"):
            return str(self.api().whoami()["name"])

    # ----- search

    def search_spaces(self, query: str = "", *, sdk: str | None = None, sort: str | None = "trending",
                      semantic: bool = False, author: str | None = None, page: int = 1,
                      limit: int = DEFAULT_PAGE_SIZE, fresh: bool = False) -> SearchPage:
        """Spaces by keyword (`/api/spaces`) or by meaning (`/api/spaces/semantic-search`).

        `fresh=True` skips the session cache (e.g. for "my Spaces" right after a change)."""
        page, limit = _check_paging(page, limit)
        sdk = _check_choice("sdk", sdk, SPACE_SDKS)
        if semantic:
            query = _check_query(query, required=True)
            key = {"q": query, "sdk": sdk}
            return self._cached("spaces-semantic", key, page, limit, lambda: self._semantic_spaces(query, sdk),
                                fresh=fresh)
        sort_value = SPACE_SORTS[_check_choice("sort", sort, tuple(SPACE_SORTS))] if sort else None
        params = _params(search=query.strip() or None, author=author, filter=sdk, sort=sort_value,
                         expand=list(_SPACE_ROW_EXPAND))
        return self._listing("spaces", "/api/spaces", params, page, limit, self._space_row, fresh=fresh)

    def search_models(self, query: str = "", *, task: str | None = None, library: str | None = None,
                      inference_provider: str | None = None, author: str | None = None,
                      sort: str | None = "downloads", page: int = 1, limit: int = DEFAULT_PAGE_SIZE) -> SearchPage:
        """Models by keyword, task (`pipeline_tag`), library (`filter`) and inference provider."""
        page, limit = _check_paging(page, limit)
        sort_value = REPO_SORTS[_check_choice("sort", sort, tuple(REPO_SORTS))] if sort else None
        params = _params(search=query.strip() or None, author=author, filter=library or None,
                         pipeline_tag=task or None, inference_provider=inference_provider or None, sort=sort_value)
        return self._listing("models", "/api/models", params, page, limit, self._model_row)

    def search_datasets(self, query: str = "", *, author: str | None = None, tags: Sequence[str] = (),
                        sort: str | None = "downloads", page: int = 1, limit: int = DEFAULT_PAGE_SIZE) -> SearchPage:
        page, limit = _check_paging(page, limit)
        sort_value = REPO_SORTS[_check_choice("sort", sort, tuple(REPO_SORTS))] if sort else None
        params = _params(search=query.strip() or None, author=author, filter=list(tags) or None, sort=sort_value)
        return self._listing("datasets", "/api/datasets", params, page, limit, self._dataset_row)

    def search_papers(self, query: str, *, page: int = 1, limit: int = DEFAULT_PAGE_SIZE) -> SearchPage:
        """Papers by text; the Hub answers at most `PAPER_SEARCH_CAP` of them, so no page lies beyond."""
        page, limit = _check_paging(page, limit)
        query = _check_query(query, required=True)
        if (page - 1) * limit >= PAPER_SEARCH_CAP:
            raise HubActionError(HubErrorKind.INVALID_INPUT, f"The Hub returns at most {PAPER_SEARCH_CAP} papers "
                                 "per search, so there is no such page.", "Narrow the search text instead.")
        wanted = min(page * limit + 1, PAPER_SEARCH_CAP)

        def fetch() -> list[dict]:
            with self.calling("search papers"):
                papers = list(self.api().list_papers(query=query, limit=wanted))
            return [self._paper_row(p) for p in papers[:wanted]]

        return self._cached("papers", {"q": query, "upto": wanted}, page, limit, fetch)

    def search_docs(self, query: str, *, product: str | None = None, page: int = 1,
                    limit: int = DEFAULT_PAGE_SIZE) -> SearchPage:
        """Hugging Face documentation (`/api/docs/search`; there is no `HfApi` method for it)."""
        page, limit = _check_paging(page, limit)
        query = _check_query(query, required=True)

        def fetch() -> list[dict]:
            with self.calling("search the documentation"):
                response = get_session().get(f"{self.endpoint}/api/docs/search",
                                             params=_params(q=query, product=product or None),
                                             headers=self._headers(), timeout=self.timeout)
                hf_raise_for_status(response)
                hits = response.json()
            return [_docs_row(hit) for hit in hits if isinstance(hit, Mapping)]

        return self._cached("docs", {"q": query, "product": product}, page, limit, fetch)

    # ----- details

    def model_details(self, repo_id: str) -> ModelDetails:
        """Card metadata, counts, files, and the inference providers serving it with their prices."""
        with self.calling("read the model", repo_id=str(repo_id), kind="model"):
            repo_id = validate_repo_id(repo_id, kind="model")
            info = self.api().model_info(repo_id, expand=list(_MODEL_DETAIL_EXPAND), timeout=self.timeout)
        offers, note = self._provider_offers(repo_id, info.inference_provider_mapping or [])
        card = _card_dict(info.card_data)
        return ModelDetails(
            id=info.id, url=self.page_url(info.id, "model"), author=info.author or _owner(info.id),
            pipeline_tag=info.pipeline_tag, library=info.library_name, likes=info.likes, downloads=info.downloads,
            license=_license(card, info.tags), gated=info.gated, private=info.private,
            last_modified=_iso(info.last_modified), tags=list(info.tags or []), card=card,
            files=_files(info.siblings), providers=offers, prices_note=note)

    def dataset_details(self, repo_id: str) -> DatasetDetails:
        with self.calling("read the dataset", repo_id=str(repo_id), kind="dataset"):
            repo_id = validate_repo_id(repo_id, kind="dataset")
            info = self.api().dataset_info(repo_id, timeout=self.timeout)
        card = _card_dict(info.card_data)
        return DatasetDetails(
            id=info.id, url=self.page_url(info.id, "dataset"), author=info.author or _owner(info.id),
            likes=info.likes, downloads=info.downloads, license=_license(card, info.tags), gated=info.gated,
            private=info.private, last_modified=_iso(info.last_modified), description=info.description,
            tags=list(info.tags or []), card=card, files=_files(info.siblings))

    def space_details(self, repo_id: str) -> SpaceDetails:
        """Card metadata, runtime stage, hardware, host and files of a Space."""
        with self.calling("read the Space", repo_id=str(repo_id)):
            repo_id = validate_repo_id(repo_id, kind="space")
            info = self.api().space_info(repo_id, timeout=self.timeout)
        card = _card_dict(info.card_data)
        runtime = info.runtime
        return SpaceDetails(
            id=info.id, url=self.page_url(info.id), author=info.author or _owner(info.id),
            title=card.get("title") or info.id.split("/")[-1], sdk=info.sdk or card.get("sdk"),
            stage=_text(runtime.stage) if runtime else None, hardware=_text(runtime.hardware) if runtime else None,
            requested_hardware=_text(runtime.requested_hardware) if runtime else None, host=info.host,
            likes=info.likes, private=info.private, last_modified=_iso(info.last_modified),
            tags=list(info.tags or []), card=card, files=_files(info.siblings), models=list(info.models or []),
            datasets=list(info.datasets or []))

    # ----- internals

    def _headers(self) -> dict[str, str]:
        return build_hf_headers(token=self._token or False, library_name=LIBRARY_NAME)

    def _cache_key(self, kind: str, params: Mapping[str, Any], page: int, limit: int) -> tuple:
        # The token's fingerprint keeps a session's results apart when it switches tokens.
        fingerprint = hashlib.sha256(self._token.encode()).hexdigest()[:12] if self._token else "anon"
        frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
        return (kind, self.endpoint, fingerprint, frozen, page, limit)

    def _cached(self, kind: str, params: Mapping[str, Any], page: int, limit: int,
                fetch: Callable[[], list[dict]], *, fresh: bool = False) -> SearchPage:
        """Serve a page from the session cache, else fetch every row up to the page and slice it."""
        key = self._cache_key(kind, params, page, limit)
        if self.cache is not None and not fresh and (hit := self.cache.get(key)) is not None:
            return hit
        rows = fetch()
        start = (page - 1) * limit
        result = SearchPage(kind=kind, page=page, page_size=limit, items=rows[start:start + limit],
                            has_next=len(rows) > start + limit)
        if self.cache is not None:
            self.cache.put(key, result)
        return result

    def _listing(self, kind: str, path: str, params: list[tuple[str, Any]], page: int, limit: int,
                 to_row: Callable[[dict], dict], *, fresh: bool = False) -> SearchPage:
        # One row beyond the page tells whether a next page exists without a second request.
        wanted = page * limit + 1
        key_params = {"params": tuple((k, str(v)) for k, v in params)}

        def fetch() -> list[dict]:
            with self.calling(f"search {kind}"):
                raw = self._collect(path, [*params, ("limit", wanted)], wanted)
            return [to_row(item) for item in raw if isinstance(item, Mapping) and "id" in item]

        return self._cached(kind, key_params, page, limit, fetch, fresh=fresh)

    def _collect(self, path: str, params: list[tuple[str, Any]], wanted: int) -> list[dict]:
        """GET a Hub listing and follow its `Link: rel="next"` pages until `wanted` items; no retries."""
        session = get_session()
        response = session.get(f"{self.endpoint}{path}", params=params, headers=self._headers(),
                               timeout=self.timeout)
        hf_raise_for_status(response)
        items = list(response.json())
        while len(items) < wanted:
            next_url = response.links.get("next", {}).get("url")
            if not next_url or not self._same_origin(next_url):
                break  # never send the token to a host other than the configured Hub
            response = session.get(next_url, headers=self._headers(), timeout=self.timeout)
            hf_raise_for_status(response)
            page_items = list(response.json())
            if not page_items:
                break
            items.extend(page_items)
        return items[:wanted]

    def _same_origin(self, url: str) -> bool:
        mine, theirs = urlsplit(self.endpoint), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def _semantic_spaces(self, query: str, sdk: str | None) -> list[dict]:
        with self.calling("search Spaces"):
            results = list(self.api().search_spaces(query, sdk=sdk))
        return [{
            "id": r.id, "title": r.title or r.id.split("/")[-1], "emoji": r.emoji, "sdk": r.sdk, "likes": r.likes,
            "stage": _text(r.runtime.stage) if r.runtime else None,
            "hardware": _text(r.runtime.hardware) if r.runtime else None,
            "category": r.ai_category, "description": r.ai_short_description,
            "score": r.semantic_relevancy_score, "url": self.page_url(r.id),
        } for r in results]

    def _space_row(self, item: Mapping[str, Any]) -> dict:
        card = item.get("cardData") or {}
        runtime = item.get("runtime") or {}
        hardware = runtime.get("hardware") or {}
        return {
            "id": item["id"], "title": card.get("title") or item["id"].split("/")[-1], "emoji": card.get("emoji"),
            "sdk": item.get("sdk") or card.get("sdk"), "likes": item.get("likes"), "stage": runtime.get("stage"),
            "hardware": hardware.get("current") or hardware.get("requested"),
            "private": item.get("private"), "updated": item.get("lastModified"), "url": self.page_url(item["id"]),
        }

    def _model_row(self, item: Mapping[str, Any]) -> dict:
        return {
            "id": item["id"], "task": item.get("pipeline_tag"), "library": item.get("library_name"),
            "likes": item.get("likes"), "downloads": item.get("downloads"),
            "updated": item.get("lastModified") or item.get("createdAt"),
            "url": self.page_url(item["id"], "model"),
        }

    def _dataset_row(self, item: Mapping[str, Any]) -> dict:
        return {
            "id": item["id"], "likes": item.get("likes"), "downloads": item.get("downloads"),
            "updated": item.get("lastModified") or item.get("createdAt"),
            "description": _snippet(item.get("description"), 160), "url": self.page_url(item["id"], "dataset"),
        }

    def _paper_row(self, paper: Any) -> dict:
        return {
            "id": paper.id, "title": paper.title, "upvotes": paper.upvotes,
            "published": _iso(paper.published_at), "authors": ", ".join(a.name for a in (paper.authors or [])[:5]
                                                                         if getattr(a, "name", None)),
            "summary": _snippet(paper.summary, 240), "url": f"{self.endpoint}/papers/{paper.id}",
        }

    def _provider_offers(self, repo_id: str, mapping: Sequence[Any]) -> tuple[list[ProviderOffer], str]:
        """Join the Hub's provider mapping with the router's prices; prices are best effort."""
        note = ""
        if self.router_url is None:
            priced, note = {}, "Prices unavailable: no inference router is configured for this Hub endpoint."
            return [ProviderOffer(provider=m.provider, provider_model_id=m.provider_id, status=m.status,
                                  task=m.task) for m in mapping], note
        try:
            priced = self._router_prices(repo_id)
        except HubActionError as exc:
            priced, note = {}, f"Prices unavailable: {exc.message}"
        offers: dict[str, ProviderOffer] = {}
        for m in mapping:
            price = priced.get(m.provider, {})
            offers[m.provider] = ProviderOffer(
                provider=m.provider, provider_model_id=m.provider_id, status=m.status, task=m.task,
                **_price_fields(price))
        for provider, price in priced.items():
            if provider not in offers:
                offers[provider] = ProviderOffer(provider=provider, provider_model_id=None,
                                                 status=price.get("status"), **_price_fields(price))
        return list(offers.values()), note

    def _router_prices(self, repo_id: str) -> dict[str, dict]:
        """`GET {router}/models/{id}` → {provider: entry}. The listing is public: no token is sent."""
        with self.calling("read the provider prices", repo_id=repo_id, kind="model"):
            response = get_session().get(f"{self.router_url}/models/{repo_id}", timeout=self.timeout,
                                         headers={"user-agent": LIBRARY_NAME})
            if response.status_code == 404:
                return {}  # no provider serves it through the router
            hf_raise_for_status(response)
            return parse_router_model(response.json(), repo_id)


# --------------------------------------------------------------------------- pure helpers


def parse_router_model(body: Any, repo_id: str) -> dict[str, dict]:
    """Read the router's model entry, whichever shape: `{"data": {...}}`, `{"data": [...]}` or `{...}`."""
    entry: Any = body.get("data", body) if isinstance(body, Mapping) else body
    if isinstance(entry, list):
        entry = next((m for m in entry if isinstance(m, Mapping) and m.get("id") == repo_id), None)
    if not isinstance(entry, Mapping):
        return {}
    return {p["provider"]: dict(p) for p in entry.get("providers") or []
            if isinstance(p, Mapping) and p.get("provider")}


def jsonable(value: Any) -> Any:
    """Turn results (dataclasses, datetimes, enums, sets, tuples) into plain JSON values."""
    if isinstance(value, Enum):
        return jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _params(**values: Any) -> list[tuple[str, Any]]:
    """Query parameters without the unset ones; a list value repeats its key, as the Hub expects."""
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            out.append((key, item))
    return out


def _check_paging(page: int, limit: int) -> tuple[int, int]:
    if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= MAX_PAGE:
        raise HubActionError(HubErrorKind.INVALID_INPUT, f"The page number must be between 1 and {MAX_PAGE}.")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise HubActionError(HubErrorKind.INVALID_INPUT, f"The page size must be between 1 and {MAX_PAGE_SIZE}.")
    return page, limit


def _check_choice(name: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise HubActionError(HubErrorKind.INVALID_INPUT, f"Unknown {name} '{value}': use one of "
                             f"{', '.join(allowed)}.")
    return value


def _check_query(query: str, *, required: bool) -> str:
    text = (query or "").strip()
    if required and not text:
        raise HubActionError(HubErrorKind.INVALID_INPUT, "Type something to search for.")
    if len(text) > 200:
        raise HubActionError(HubErrorKind.INVALID_INPUT, "The search text is too long (200 characters at most).")
    return text


def _docs_row(hit: Mapping[str, Any]) -> dict:
    headings = [h for h in (hit.get("heading1"), hit.get("heading2")) if h]
    return {"title": hit.get("source_page_title"), "section": " › ".join(headings), "product": hit.get("product"),
            "text": _snippet(hit.get("text"), 300), "url": hit.get("source_page_url")}


def _price_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    pricing = entry.get("pricing") or {}
    return {"price_input": _number(pricing.get("input")), "price_output": _number(pricing.get("output")),
            "context_length": entry.get("context_length"), "supports_tools": entry.get("supports_tools")}


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _card_dict(card_data: Any) -> dict[str, Any]:
    if card_data is None:
        return {}
    raw = card_data.to_dict() if hasattr(card_data, "to_dict") else dict(card_data)
    return jsonable(raw)


def _license(card: Mapping[str, Any], tags: Sequence[str] | None) -> str | None:
    if card.get("license"):
        return str(card["license"])
    return next((t.split(":", 1)[1] for t in tags or [] if t.startswith("license:")), None)


def _files(siblings: Sequence[Any] | None) -> list[RepoFile]:
    return [RepoFile(path=s.rfilename, size=s.size) for s in siblings or []]


def _owner(repo_id: str) -> str | None:
    return repo_id.split("/", 1)[0] if "/" in repo_id else None


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, (_dt.datetime, _dt.date)) else (str(value) if value else None)


def _text(value: Any) -> str | None:
    """Enum members (SpaceStage, SpaceHardware) as their plain string value."""
    if value is None:
        return None
    return str(value.value) if hasattr(value, "value") else str(value)


def _snippet(text: Any, limit: int) -> str | None:
    if not text:
        return None
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
