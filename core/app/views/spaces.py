"""What the Spaces page needs, without Streamlit: the token to use, per-session clients, search requests,
table shapes, detail rows, the files of a push, bounded log tails and error text.

Everything here is plain data in, plain data out, so it is tested without a browser. The page turns
`TableColumn`s into `st.column_config` entries and shows `error_text(err)` in `st.error`.

    token = choose_hub_token(svc.config.providers, session_keys())   # session key, else the shared one
    hub, spaces = session_clients(st.session_state, endpoint=svc.hub_endpoint, token=token,
                                  router_url=None, store=svc.store, session=session_id)
    page = run_search(hub, SearchRequest(kind="Models", query="llama", task="text-generation"))
    rows = result_rows(page, result_columns(page.kind, hub.endpoint))
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from core.hub.client import REPO_SORTS, SPACE_SORTS, HubClient, SearchCache, SearchPage
from core.hub.errors import HubActionError, HubErrorKind
from core.hub.spaces import HARDWARE_CHOICES, SDK_CHOICES, SpaceManager
from core.llm.keys import mask

T = TypeVar("T")

SEARCH_KINDS = ("Spaces", "Models", "Datasets", "Papers", "Docs")
PAGE_SIZES = (10, 20, 50)
SEARCH_TTL = 120.0            # seconds a search page is served from the session cache
LOG_READ_SECONDS = 10.0       # a one-off log read gives up after this long
FOLLOW_SECONDS = (10, 30, 60, 120)
MAX_LOG_LINES = 500
WAIT_POLL_SECONDS = 2.0
MAX_FILE_SLOTS = 10

# Choices offered in the filters; "" means "any".
MODEL_TASKS = ("", "text-generation", "image-text-to-text", "text-to-image", "feature-extraction",
               "sentence-similarity", "automatic-speech-recognition", "text-classification", "translation",
               "summarization", "image-classification", "object-detection", "text-to-speech")
MODEL_LIBRARIES = ("", "transformers", "sentence-transformers", "diffusers", "gguf", "peft", "mlx", "timm",
                   "onnx", "safetensors")
INFERENCE_PROVIDERS = ("", "all", "cerebras", "cohere", "deepinfra", "fal-ai", "featherless-ai", "fireworks-ai",
                       "groq", "hf-inference", "hyperbolic", "nebius", "novita", "nscale", "replicate",
                       "sambanova", "scaleway", "together")
DOC_PRODUCTS = ("", "hub", "huggingface_hub", "transformers", "diffusers", "datasets", "inference-providers",
                "smolagents", "gradio")
SDK_LABELS = {"docker-streamlit": "Docker · Streamlit template", "gradio": "Gradio", "static": "Static (free)"}
HARDWARE_OPTIONS: tuple[str, ...] = ("", *HARDWARE_CHOICES)   # "" lets the Hub pick (cpu-basic, free)

_STAGE_ICONS = {"RUNNING": "🟢", "RUNNING_BUILDING": "🟢", "RUNNING_APP_STARTING": "🟢", "BUILDING": "🟡",
                "APP_STARTING": "🟡", "PAUSED": "⏸️", "STOPPED": "⏹️", "SLEEPING": "💤", "NO_APP_FILE": "⚪",
                "DELETING": "🗑️"}


# --------------------------------------------------------------------------- the token


@dataclass(frozen=True)
class HubToken:
    """The HF token a session uses: its own (`session`), the shared one (`shared`) or none.

    `value` is never part of `repr`; show `describe()` or `masked` instead.
    """

    value: str | None = field(repr=False)
    source: Literal["session", "shared", "none"]

    @property
    def label(self) -> str:
        return {"session": "your token", "shared": "shared token", "none": "no token: search only"}[self.source]

    @property
    def masked(self) -> str:
        return mask(self.value) if self.value else ""

    @property
    def fingerprint(self) -> str:
        """A short one-way id of the token, to tell sessions' cached results apart."""
        return hashlib.sha256(self.value.encode()).hexdigest()[:12] if self.value else "anonymous"

    def describe(self) -> str:
        """`your token (hf_…abcd)`, `shared token (hf_…wxyz)` or `no token: search only`."""
        return f"{self.label} ({self.masked})" if self.value else self.label


def huggingface_provider(providers: Iterable[Any]) -> Any | None:
    """The configured provider of kind "huggingface", if any."""
    return next((p for p in providers if getattr(p, "kind", None) == "huggingface"), None)


def choose_hub_token(providers: Iterable[Any], session_keys: Mapping[str, str], *, hosted: bool = False) -> HubToken:
    """The session's key for the huggingface provider, else that provider's shared `api_key`, else none.

    >>> class P: name, kind, api_key = "hf", "huggingface", "hf_shared0000"
    >>> choose_hub_token([P()], {"hf": "hf_mine00001111"}).source
    'session'
    """
    provider = huggingface_provider(providers)
    if provider is None:
        return HubToken(None, "none")
    mine = (session_keys.get(provider.name) or "").strip()
    if mine:
        return HubToken(mine, "session")
    if hosted:   # on a public console the owner's token never acts on the Hub for a visitor
        return HubToken(None, "none")
    shared = (getattr(provider, "api_key", None) or "").strip()
    return HubToken(shared, "shared") if shared else HubToken(None, "none")


# --------------------------------------------------------------------------- per-session clients

_CLIENTS_KEY = "spaces_clients"
_CACHE_KEY = "spaces_search_cache"
_READS_KEY = "spaces_reads"


def session_clients(state: MutableMapping[str, Any], *, endpoint: str, token: HubToken, router_url: str | None,
                    store: Any, session: str | None,
                    max_upload_bytes: int | None = None) -> tuple[HubClient, SpaceManager]:
    """This session's `HubClient` and `SpaceManager`, kept in `state` (the session state, never a
    process-wide cache) and rebuilt only when the endpoint, token, router or store change, so the
    token's user name (`whoami`, strictly rate limited) is asked once. The search cache is per session.
    `max_upload_bytes` (the hosted policy's) bounds every push of the `SpaceManager`."""
    cache = state.get(_CACHE_KEY)
    if not isinstance(cache, SearchCache):
        cache = SearchCache(ttl=SEARCH_TTL)
        state[_CACHE_KEY] = cache
    identity = (endpoint, token.fingerprint, router_url, id(store), session, max_upload_bytes)
    held = state.get(_CLIENTS_KEY)
    if isinstance(held, tuple) and len(held) == 3 and held[0] == identity:
        return held[1], held[2]
    hub = HubClient(endpoint, token.value, router_url=router_url, cache=cache)
    spaces = SpaceManager(hub, store=store, session=session, max_upload_bytes=max_upload_bytes)
    state[_CLIENTS_KEY] = (identity, hub, spaces)
    return hub, spaces


def remembered(state: MutableMapping[str, Any], key: tuple[Hashable, ...], fetch: Callable[[], T]) -> T:
    """A Hub read kept in the session until `forget` drops it: reruns don't call the Hub again.

    `key[0]` names what was read ("my_spaces", "secrets"…); a failed fetch is not kept."""
    reads = state.setdefault(_READS_KEY, {})
    if key not in reads:
        reads[key] = fetch()
    return reads[key]


def forget(state: MutableMapping[str, Any], *whats: str) -> None:
    """Drop remembered reads named `whats` (all of them when none is named), e.g. after a change."""
    reads = state.get(_READS_KEY) or {}
    for key in [k for k in reads if not whats or k[0] in whats]:
        del reads[key]


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchRequest:
    """One search as the user asked it; `at_page` gives the same search on another page."""

    kind: str = "Spaces"
    query: str = ""
    page: int = 1
    limit: int = 20
    sdk: str = ""
    sort: str = ""
    semantic: bool = False
    task: str = ""
    library: str = ""
    provider: str = ""
    product: str = ""

    def at_page(self, page: int) -> SearchRequest:
        return replace(self, page=max(1, page))

    def describe(self) -> str:
        """`models matching "llama" · task text-generation` for a caption."""
        parts = [self.kind.lower() + (f' matching "{self.query.strip()}"' if self.query.strip() else "")]
        for name, value in (("SDK", self.sdk), ("task", self.task), ("library", self.library),
                            ("provider", self.provider), ("product", self.product)):
            if value:
                parts.append(f"{name} {value}")
        if self.semantic:
            parts.append("by meaning")
        elif self.sort:
            parts.append(f"sorted by {self.sort}")
        return " · ".join(parts)


def sort_options(kind: str) -> tuple[str, ...]:
    """The sort choices of a kind, in the Hub's UI words (first is the default)."""
    if kind == "Spaces":
        return tuple(SPACE_SORTS)
    if kind in ("Models", "Datasets"):
        return ("downloads", *(s for s in REPO_SORTS if s != "downloads"))
    return ()


def run_search(hub: HubClient, request: SearchRequest) -> SearchPage:
    """Send `request` through the hub client (its session cache answers repeats)."""
    r = request
    if r.kind == "Spaces":
        return hub.search_spaces(r.query, sdk=r.sdk or None, sort=None if r.semantic else (r.sort or "trending"),
                                 semantic=r.semantic, page=r.page, limit=r.limit)
    if r.kind == "Models":
        return hub.search_models(r.query, task=r.task or None, library=r.library or None,
                                 inference_provider=r.provider or None, sort=r.sort or "downloads", page=r.page,
                                 limit=r.limit)
    if r.kind == "Datasets":
        return hub.search_datasets(r.query, sort=r.sort or "downloads", page=r.page, limit=r.limit)
    if r.kind == "Papers":
        return hub.search_papers(r.query, page=r.page, limit=r.limit)
    if r.kind == "Docs":
        return hub.search_docs(r.query, product=r.product or None, page=r.page, limit=r.limit)
    raise HubActionError(HubErrorKind.INVALID_INPUT, f"Unknown search kind '{r.kind}': use one of "
                         f"{', '.join(SEARCH_KINDS)}.")


def page_span(page: SearchPage) -> str:
    """`Page 2 · results 21–40` (or `Page 1 · no results`)."""
    if not page.items:
        return f"Page {page.page} · no results"
    first = (page.page - 1) * page.page_size + 1
    return f"Page {page.page} · results {first}–{first + len(page.items) - 1}"


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class TableColumn:
    """One column of a results table. `kind`: text, link, number (compact), price, bool.

    A link column's value is a URL; `display` is a regex whose first group is the text shown."""

    key: str
    label: str
    kind: str = "text"
    width: str | int | None = None
    display: str | None = None
    help: str | None = None


def _link_display(endpoint: str, prefix: str) -> str:
    return "^" + re.escape(endpoint.rstrip("/") + "/" + prefix) + "(.+)$"


def result_columns(kind: str, endpoint: str) -> list[TableColumn]:
    """The columns of a results table for `kind` ("spaces", "spaces-semantic", "models", … as in SearchPage)."""
    if kind in ("spaces", "spaces-semantic", "my-spaces"):
        link = TableColumn("url", "Space", "link", "medium", _link_display(endpoint, "spaces/"), "Open on the Hub")
        cols = [link, TableColumn("title", "Title", width="medium"), TableColumn("sdk", "SDK", width="small"),
                TableColumn("stage", "Stage", width=140), TableColumn("hardware", "Hardware", width="small")]
        if kind == "spaces-semantic":
            cols += [TableColumn("category", "Category", width="small"),
                     TableColumn("description", "About", width="large")]
        if kind == "my-spaces":
            cols += [TableColumn("visibility", "Visibility", width="small")]
        return cols + [TableColumn("likes", "Likes", "number", "small"), TableColumn("updated", "Updated",
                                                                                    width="small")]
    if kind == "models":
        return [TableColumn("url", "Model", "link", "large", _link_display(endpoint, ""), "Open on the Hub"),
                TableColumn("task", "Task", width="medium"), TableColumn("library", "Library", width=130),
                TableColumn("downloads", "Downloads", "number", "small"), TableColumn("likes", "Likes", "number",
                                                                                      "small"),
                TableColumn("updated", "Updated", width="small")]
    if kind == "datasets":
        return [TableColumn("url", "Dataset", "link", "medium", _link_display(endpoint, "datasets/"),
                            "Open on the Hub"),
                TableColumn("description", "About", width="large"),
                TableColumn("downloads", "Downloads", "number", "small"), TableColumn("likes", "Likes", "number",
                                                                                      "small"),
                TableColumn("updated", "Updated", width="small")]
    if kind == "papers":
        return [TableColumn("title", "Title", width="large"),
                TableColumn("url", "Paper", "link", "small", r"/papers/([^/?#]+)$", "Open on Hugging Face Papers"),
                TableColumn("authors", "Authors", width="medium"), TableColumn("published", "Published",
                                                                               width="small"),
                TableColumn("upvotes", "Upvotes", "number", "small")]
    if kind == "docs":
        return [TableColumn("title", "Page", width="medium"), TableColumn("section", "Section", width="medium"),
                TableColumn("product", "Product", width="small"), TableColumn("text", "Excerpt", width="large"),
                TableColumn("url", "Link", "link", "small", r"/docs/(.+)$", "Open the documentation page")]
    raise ValueError(f"unknown result kind {kind!r}")


def result_rows(items: Sequence[Mapping[str, Any]], columns: Sequence[TableColumn]) -> list[dict[str, Any]]:
    """The rows of a results table: one dict per item with exactly the columns' keys, dates shortened."""
    rows = []
    for item in items:
        row = {}
        for col in columns:
            value = item.get(col.key)
            if col.key == "visibility":
                value = "private" if item.get("private") else "public"
            elif col.key in ("updated", "published"):
                value = short_date(value)
            elif col.key == "stage":
                value = stage_label(value)
            row[col.key] = value
        rows.append(row)
    return rows


def short_date(value: Any) -> str | None:
    """`2026-09-01T12:00:00.000Z` → `2026-09-01`."""
    if not value:
        return None
    text = str(value)
    return text[:10] if re.match(r"\d{4}-\d{2}-\d{2}", text) else text


def stage_label(stage: str | None) -> str | None:
    """A stage with a status dot: `🟢 RUNNING`, `🔴 BUILD_ERROR`."""
    if not stage:
        return None
    icon = "🔴" if stage.endswith("ERROR") else _STAGE_ICONS.get(stage, "⚪")
    return f"{icon} {stage}"


def compact_count(value: int | None) -> str:
    """`9000000` → `9M`, `12345` → `12.3K`, `999` → `999`: short enough for a metric."""
    if value is None:
        return "—"
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return str(value)


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # unreachable


# --------------------------------------------------------------------------- detail panels


def file_rows(files: Sequence[Any], limit: int = 200) -> list[dict[str, Any]]:
    """Files of a repo; the size column only when the Hub gave sizes."""
    shown = list(files)[:limit]
    if any(f.size is not None for f in shown):
        return [{"file": f.path, "size": human_size(f.size)} for f in shown]
    return [{"file": f.path} for f in shown]


def provider_rows(providers: Sequence[Any]) -> list[dict[str, Any]]:
    """Inference providers of a model, cheapest known input price first, unknown prices last."""
    rows = [{"provider": p.provider, "status": p.status, "model at provider": p.provider_model_id,
             "input $/1M": p.price_input, "output $/1M": p.price_output, "context": p.context_length,
             "tools": p.supports_tools} for p in providers]
    return sorted(rows, key=lambda r: (r["input $/1M"] is None, r["input $/1M"] or 0.0, r["provider"]))


def card_facts(details: Any) -> list[tuple[str, str]]:
    """Short label/value facts for the top of a detail panel (only the known ones)."""
    facts = []
    for label, attr in (("Author", "author"), ("Task", "pipeline_tag"), ("Library", "library"), ("SDK", "sdk"),
                        ("Stage", "stage"), ("Hardware", "hardware"), ("License", "license"),
                        ("Updated", "last_modified")):
        value = getattr(details, attr, None)
        if value in (None, "", []):
            continue
        if attr == "last_modified":
            value = short_date(value)
        elif attr == "stage":
            value = stage_label(value)
        facts.append((label, str(value)))
    if getattr(details, "private", None):
        facts.append(("Visibility", "private"))
    gated = getattr(details, "gated", None)
    if gated not in (None, False, "false"):
        facts.append(("Access", f"gated ({gated})" if isinstance(gated, str) else "gated"))
    return facts


def tag_badges(tags: Sequence[str], limit: int = 24) -> str:
    """Tags as Streamlit markdown badges; brackets are dropped so a tag cannot break the markup."""
    shown = [re.sub(r"[\[\]\\]", "", t) for t in tags[:limit] if t]
    more = f" +{len(tags) - limit} more" if len(tags) > limit else ""
    return " ".join(f":gray-badge[{t}]" for t in shown) + more


# --------------------------------------------------------------------------- my Spaces


def space_ids(rows: Sequence[Mapping[str, Any]], extra: str | None = None) -> list[str]:
    """The ids to offer in "Manage a Space": listed ones, plus `extra` (just created) if missing."""
    ids = [str(r["id"]) for r in rows if r.get("id")]
    if extra and extra not in ids:
        ids.insert(0, extra)
    return ids


def files_to_push(slots: Sequence[tuple[str, str]], uploads: Sequence[tuple[str, bytes]] = ()) -> dict[str, Any]:
    """Editor slots (path, text) and uploads (name, bytes) as one commit's files (path → content).

    Empty slots are skipped; text without a path, or one path twice, is refused before sending.
    Paths themselves are checked by `SpaceManager.push_files`."""
    files: dict[str, Any] = {}
    for number, (path, text) in enumerate(slots, start=1):
        path = (path or "").strip()
        if not path and not (text or "").strip():
            continue
        if not path:
            raise HubActionError(HubErrorKind.INVALID_INPUT, f"File {number} has content but no path.",
                                 "Give it a path like 'app.py'. Nothing was sent to the Hub.")
        _add_once(files, path, text or "")
    for name, content in uploads:
        _add_once(files, (name or "").strip(), content)
    return files


def _add_once(files: dict[str, Any], path: str, content: Any) -> None:
    if path in files:
        raise HubActionError(HubErrorKind.INVALID_INPUT, f"'{path[:80]}' is listed twice.",
                             "Keep one copy of each path. Nothing was sent to the Hub.")
    files[path] = content


@dataclass(frozen=True)
class LogTail:
    """The last lines read from a log stream, and why the read stopped."""

    lines: list[str]
    total: int
    ended: bool          # the Hub closed the stream (False: stopped at the time limit)
    seconds: float

    @property
    def truncated(self) -> bool:
        return self.total > len(self.lines)

    def summary(self, what: str) -> str:
        """`12 lines of build logs · the stream ended` or `… · stopped after 30 s`."""
        count = f"{self.total} line{'s' if self.total != 1 else ''} of {what}"
        if self.truncated:
            count += f" (last {len(self.lines)} shown)"
        return f"{count} · " + ("the stream ended" if self.ended else f"stopped after {self.seconds:.0f} s")


def tail_logs(lines: Iterator[str], *, seconds: float, max_lines: int = MAX_LOG_LINES,
              on_update: Callable[[list[str]], None] | None = None, update_every: float = 0.5,
              clock: Callable[[], float] = time.monotonic) -> LogTail:
    """Read `lines` for at most `seconds`, keeping the last `max_lines`; `on_update(lines)` sees progress.

    The stream is read on a helper thread so a silent stream cannot hold the page past the limit; that
    thread stops at its next line (or when the Hub's read timeout fires) and closes the stream. A
    `HubActionError` raised by the stream is raised here."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for line in lines:
                events.put(("line", line))
                if stop.is_set():
                    break
        except HubActionError as err:
            events.put(("error", err))
        except Exception as exc:  # the stream must end in words, never in a traceback
            events.put(("error", HubActionError(HubErrorKind.UNAVAILABLE, f"Reading the logs failed "
                                                f"({type(exc).__name__}).", "Try again shortly.")))
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # closing a half-read HTTP stream is best effort
                    close()
            events.put(("end", None))

    threading.Thread(target=pump, name="space-logs", daemon=True).start()
    kept: deque[str] = deque(maxlen=max_lines)
    total, ended, error = 0, False, None
    started = clock()
    last_update = started
    while not ended:
        left = started + seconds - clock()
        if left <= 0:
            break
        try:
            kind, value = events.get(timeout=min(left, 0.25))
        except queue.Empty:
            continue
        if kind == "line":
            kept.append(str(value).rstrip("\n"))
            total += 1
            if on_update is not None and clock() - last_update >= update_every:
                on_update(list(kept))
                last_update = clock()
        elif kind == "error":
            error = value
        else:
            ended = True
    stop.set()
    if error is not None:
        raise error
    return LogTail(lines=list(kept), total=total, ended=ended, seconds=min(clock() - started, seconds))


def wait_progress(stage: str, elapsed: float, timeout: float) -> tuple[float, str]:
    """The progress bar of a wait: fraction of the time limit used, and its text."""
    return min(1.0, elapsed / timeout if timeout else 1.0), f"{stage_label(stage)} · {elapsed:.0f} s of {timeout:.0f} s"


# --------------------------------------------------------------------------- tools and errors


def tool_rows(tools: Iterable[Any]) -> list[dict[str, Any]]:
    """The tool registry as a table: name, description, parameters (required ones starred), mutating."""
    rows = []
    for tool in tools:
        props = tool.parameters.get("properties") or {}
        required = set(tool.parameters.get("required") or [])
        params = ", ".join(f"{name}*" if name in required else name for name in props)
        rows.append({"tool": tool.name, "what it does": tool.description, "parameters": params or "none",
                     "changes things": bool(tool.mutating)})
    return rows


def error_text(err: HubActionError) -> str:
    """A failure as shown to the user: the message in bold, then the hint; a 429 always says when to retry."""
    text = f"**{err.message}**"
    if err.kind == HubErrorKind.RATE_LIMITED and err.retry_after is not None and "retry" not in err.message:
        text += f" Retry in {err.retry_after:g} s."
    if err.hint:
        text += f"  \n{err.hint}"
    return text


def sdk_choices() -> list[str]:
    """The SDK choices of the create form, Streamlit first (the console's own kind of app)."""
    return [s for s in SDK_LABELS if s in SDK_CHOICES]


def hardware_label(value: str) -> str:
    return value or "Hub default (cpu-basic, free)"

