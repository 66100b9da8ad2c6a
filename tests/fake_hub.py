"""A fake Hugging Face Hub: a real HTTP server on 127.0.0.1 with Hub-shaped responses and in-memory state.

    hub = FakeHub().start()                       # random port; also a context manager
    hub.add_token("hf_SENTINEL...", user="alice")  # role "write" (default) or "read"
    HfApi(endpoint=hub.url, token=...)             # or HubClient(hub.url, token, router_url=hub.router_url)
    hub.fail("/api/repos/create", 402)             # next matching requests answer 402 (times=None: always)
    hub.fail("/api/spaces/alice/app/restart", 429, retry_after=7, times=1)
    hub.requests                                   # every request: method, path, query, headers, body
    hub.last("POST", "/api/repos/create").json()   # the parsed JSON body; .ndjson() for commits
    hub.space("alice/app").files["app.py"]         # state: files, stages, secrets, variables, logs
    hub.stop()

What it serves (bodies shaped like the real Hub, see shared/reference/huggingface_hub.md §5–6):
- search: `GET /api/models|datasets|spaces` (search, author, filter, pipeline_tag, inference_provider, sort,
  limit, expand; paged with `Link: <…cursor=N>; rel="next"` at `page_size`), `/api/spaces/semantic-search`,
  `/api/papers/search`, `/api/docs/search`, and the router's `GET /router/v1/models/{id}` (prices).
- details: `GET /api/models/{id}` (honours `expand`), `/api/datasets/{id}`, `/api/spaces/{id}`, `/api/whoami-v2`.
- lifecycle: `POST /api/repos/create`, `DELETE /api/repos/delete`, `POST /api/validate-yaml`,
  `POST /api/spaces/{id}/preupload/main` + `/commit/main` (ndjson), `GET …/runtime`, `POST …/restart|pause|
  hardware`, `GET|POST|DELETE …/secrets|variables`, `GET …/logs/build|run` (SSE), `POST …/duplicate`.

Auth: a bearer token must be registered with `add_token`; unknown tokens get 401, "read" tokens get 403 on
writes, writes to another user's namespace get 403, private repos are 404 (`X-Error-Code: RepoNotFound`)
to other signed-in users and 401 to anonymous requests, as on the real Hub (huggingface_hub then reads that
401 as "repo not found" over https: `FakeHub(tls=(cert, key))` serves https to reproduce it). A user on the
"free" plan (`set_plan`) gets 402 when creating Gradio or Docker Spaces and when asking for paid hardware.

Shapes follow the recorded traffic in tests/replay/hub (huggingface_hub cassettes, hf-mcp-server fixtures,
huggingface.js types): keyword search matches the repo id only; semantic-search hits carry `shortDescription`
and no `tags`; a static Space's runtime has null hardware and no `gcTimeout`; `SLEEPING` is a stage; preupload
answers carry `commitOid`; delete answers the text `OK`; paper search answers at most `PAPER_SEARCH_CAP`.
Runtime stages: each `GET …/runtime` returns `space.stages[0]` and then drops it while more remain, so
`stages=["BUILDING", "BUILDING", "RUNNING"]` moves over polls; a commit sets `after_commit_stages`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import yaml

REPO = r"(?P<id>[^/]+/[^/]+)"
BASE_TIME = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
PAPER_SEARCH_CAP = 120   # the Hub's paper search answers at most this many (hf-mcp-server PAPER_SEARCH_LIMIT)
ANONYMOUS_401 = "Invalid username or password."   # not "Invalid credentials…": that one means a bad token
# The Hub's validate-yaml words, as quoted in qdonnars/ohmywind#160 (see tests/replay/hub/SOURCES.json).
SHORT_DESCRIPTION_TOO_LONG = '"short_description" length must be less than or equal to 60 characters long'


# --------------------------------------------------------------------------- records and state


@dataclass
class RecordedRequest:
    method: str
    path: str                        # decoded, without the query string
    query: dict[str, list[str]]      # every value of every parameter, in order
    headers: dict[str, str]          # lower-cased names
    body: bytes

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def ndjson(self) -> list[dict]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


@dataclass
class Failure:
    path: str | re.Pattern
    status: int
    method: str | None = None
    times: int | None = None         # None: every matching request
    retry_after: float | str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if isinstance(self.path, re.Pattern):
            return self.path.fullmatch(path) is not None
        return self.path == path


@dataclass
class FakeSpace:
    id: str
    sdk: str = "gradio"
    private: bool = False
    title: str | None = None
    emoji: str = "🚀"
    likes: int = 0
    hardware: str = "cpu-basic"
    stages: list[str] = field(default_factory=lambda: ["RUNNING"])
    files: dict[str, bytes] = field(default_factory=dict)
    secrets: dict[str, dict] = field(default_factory=dict)      # key → {"value", "description", "updatedAt"}
    variables: dict[str, dict] = field(default_factory=dict)    # key → {"value", "description", "updatedAt"}
    build_logs: list[str] = field(default_factory=lambda: ["Step 1/5 : FROM python:3.11\n", "Successfully built\n"])
    run_logs: list[str] = field(default_factory=lambda: ["Running on local URL:  http://0.0.0.0:7860\n"])
    commits: list[dict] = field(default_factory=list)           # {"summary", "description", "files", "deleted"}
    error_message: str | None = None
    category: str = "Other"
    description: str = ""            # the AI summary (`ai_short_description`)
    short_description: str = ""      # the card's `short_description` (`shortDescription`)
    created_at: datetime = BASE_TIME
    last_modified: datetime = BASE_TIME

    @property
    def owner(self) -> str:
        return self.id.split("/")[0]

    @property
    def stage(self) -> str:
        return self.stages[0]

    @property
    def sha(self) -> str:
        return hashlib.sha1(repr((self.id, len(self.commits))).encode()).hexdigest()

    def runtime(self) -> dict:
        if self.sdk == "static":   # recorded: no hardware, no sleep time, no dev mode
            return {"stage": self.stage, "hardware": {"current": None, "requested": None}, "storage": None,
                    "replicas": {"requested": 1, "current": 1}}
        running = self.stage in ("RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING")
        host = self.id.replace("/", "-").replace("_", "-").lower()
        body = {"stage": self.stage, "hardware": {"current": self.hardware if running else None,
                                                  "requested": self.hardware},
                "storage": None, "gcTimeout": 172800, "replicas": {"requested": 1}, "devMode": False,
                "domains": [{"domain": f"{host}.hf.space", "stage": "READY"}]}
        if self.stage.endswith("ERROR") and self.error_message:
            body["errorMessage"] = self.error_message
        return body


@dataclass
class FakeModel:
    id: str
    pipeline_tag: str | None = "text-generation"
    library: str | None = "transformers"
    likes: int = 0
    downloads: int = 0
    tags: list[str] = field(default_factory=list)
    card: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=lambda: ["README.md", "config.json"])
    providers: dict[str, dict] = field(default_factory=dict)   # Hub mapping: name → {"status","providerId","task"}
    prices: list[dict] = field(default_factory=list)           # router entries: {"provider","pricing",...}
    created_at: datetime = BASE_TIME
    private: bool = False


@dataclass
class FakeDataset:
    id: str
    likes: int = 0
    downloads: int = 0
    tags: list[str] = field(default_factory=list)
    description: str = ""
    card: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=lambda: ["README.md", "data/train.parquet"])
    created_at: datetime = BASE_TIME
    private: bool = False


# --------------------------------------------------------------------------- the server


class FakeHub:
    """See the module docstring. All state is guarded by one lock; handlers run in server threads."""

    def __init__(self, *, page_size: int = 1000, tls: tuple[str, str] | None = None) -> None:
        self._default_page_size = page_size
        self._tls = tls   # (certificate, key) files: serve https
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # ----- lifecycle

    def start(self) -> FakeHub:
        hub = self
        tls = self._tls

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                hub._handle(self, "GET")

            def do_POST(self) -> None:
                hub._handle(self, "POST")

            def do_PUT(self) -> None:
                hub._handle(self, "PUT")

            def do_DELETE(self) -> None:
                hub._handle(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake Hub first"
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self._server.server_address[1]}"

    @property
    def router_url(self) -> str:
        return f"{self.url}/router/v1"

    # ----- test controls

    def reset(self) -> None:
        """Forget requests, failures, tokens and plans; restore the page size and the seeded catalogue."""
        with self._lock:
            self.page_size = self._default_page_size
            self.requests: list[RecordedRequest] = []
            self.failures: list[Failure] = []
            self.tokens: dict[str, tuple[str, str]] = {}
            self.plans: dict[str, str] = {}
            self.after_commit_stages = ["BUILDING", "BUILDING", "RUNNING"]
            self.after_restart_stages = ["APP_STARTING", "RUNNING"]
            self.spaces: dict[str, FakeSpace] = {}
            self.models: dict[str, FakeModel] = {}
            self.datasets: dict[str, FakeDataset] = {}
            self.papers: list[dict] = []
            self.docs: list[dict] = []
            _seed(self)

    def add_token(self, token: str, *, user: str = "alice", role: str = "write") -> None:
        with self._lock:
            self.tokens[token] = (user, role)

    def set_plan(self, user: str, plan: str) -> None:
        """"free" makes creating Gradio/Docker Spaces answer 402; anything else is a paid plan."""
        with self._lock:
            self.plans[user] = plan

    def add_space(self, space: FakeSpace) -> FakeSpace:
        with self._lock:
            self.spaces[space.id] = space
        return space

    def add_model(self, model: FakeModel) -> FakeModel:
        with self._lock:
            self.models[model.id] = model
        return model

    def add_dataset(self, dataset: FakeDataset) -> FakeDataset:
        with self._lock:
            self.datasets[dataset.id] = dataset
        return dataset

    def space(self, space_id: str) -> FakeSpace:
        with self._lock:
            return self.spaces[space_id]

    def fail(self, path: str | re.Pattern, status: int, *, method: str | None = None, times: int | None = None,
             retry_after: float | str | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> Failure:
        """Answer requests to `path` (exact, or a compiled regex) with `status`, before any routing."""
        failure = Failure(path=path, status=status, method=method, times=times, retry_after=retry_after,
                          body=body, headers=dict(headers or {}))
        with self._lock:
            self.failures.append(failure)
        return failure

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def requests_to(self, method: str | None = None, path: str | re.Pattern | None = None) -> list[RecordedRequest]:
        with self._lock:
            found = list(self.requests)
        if method:
            found = [r for r in found if r.method == method.upper()]
        if isinstance(path, re.Pattern):
            found = [r for r in found if path.fullmatch(r.path)]
        elif path is not None:
            found = [r for r in found if r.path == path]
        return found

    def last(self, method: str, path: str | re.Pattern) -> RecordedRequest:
        found = self.requests_to(method, path)
        assert found, f"no {method} request to {path!r}; saw {[(r.method, r.path) for r in self.requests]}"
        return found[-1]

    # ----- request handling

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        request = RecordedRequest(method=method, path=path, query=parse_qs(parts.query, keep_blank_values=True),
                                  headers={k.lower(): v for k, v in h.headers.items()}, body=_read_body(h))
        with self._lock:
            self.requests.append(request)
            failure = self._take_failure(method, path)
        if failure is not None:
            self._send_failure(h, failure)
            return
        for route_method, pattern, name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                with self._lock:
                    getattr(self, name)(h, request, **match.groupdict())
                return
        _send_json(h, 404, {"error": f"Sorry, we can't find the page you are looking for ({method} {path})."})

    def _take_failure(self, method: str, path: str) -> Failure | None:
        for failure in self.failures:
            if failure.matches(method, path) and (failure.times is None or failure.times > 0):
                if failure.times is not None:
                    failure.times -= 1
                return failure
        return None

    def _send_failure(self, h: BaseHTTPRequestHandler, f: Failure) -> None:
        headers = dict(f.headers)
        if f.retry_after is not None:
            headers["Retry-After"] = str(f.retry_after)
        if f.status == 404:
            headers.setdefault("X-Error-Code", "RepoNotFound")
            headers.setdefault("X-Error-Message", "Repository not found")
        _send_json(h, f.status, f.body if f.body is not None else {"error": _DEFAULT_ERRORS.get(f.status, "Error")},
                   headers)

    def _user(self, h: BaseHTTPRequestHandler, r: RecordedRequest, *, required: bool) -> tuple[str, str] | None:
        """The (user, role) behind the bearer token; answers 401 itself and returns None when refused."""
        auth = r.authorization or ""
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if token is not None and token not in self.tokens:
            _send_json(h, 401, {"error": "Invalid credentials in Authorization header"},
                       {"X-Error-Message": "Invalid credentials in Authorization header"})
            return None
        if token is None:
            if required:
                _send_json(h, 401, {"error": "You must be authenticated to do this."})
                return None
            return ("", "anonymous")
        return self.tokens[token]

    def _writer(self, h: BaseHTTPRequestHandler, r: RecordedRequest, namespace: str) -> str | None:
        who = self._user(h, r, required=True)
        if who is None:
            return None
        user, role = who
        if role != "write" or namespace != user:
            _send_json(h, 403, {"error": f"You don't have the rights to write to the namespace {namespace}"},
                       {"X-Error-Message": "You don't have the rights to write to this namespace"})
            return None
        return user

    def _visible_space(self, h: BaseHTTPRequestHandler, r: RecordedRequest, space_id: str) -> FakeSpace | None:
        who = self._user(h, r, required=False)
        if who is None:
            return None
        space = self.spaces.get(space_id)
        if space is None or (space.private and who[0] != space.owner):
            _send_not_found(h, space_id, anonymous=who[1] == "anonymous")
            return None
        return space

    def _owned_space(self, h: BaseHTTPRequestHandler, r: RecordedRequest, space_id: str) -> FakeSpace | None:
        space = self._visible_space(h, r, space_id)
        if space is None:
            return None
        return space if self._writer(h, r, space.owner) is not None else None

    # ----- search and details

    def whoami(self, h, r) -> None:
        who = self._user(h, r, required=True)
        if who is None:
            return
        user, role = who
        _send_json(h, 200, {"type": "user", "id": hashlib.md5(user.encode()).hexdigest()[:24], "name": user,
                            "fullname": user.title(), "isPro": self.plans.get(user, "pro") != "free",
                            "orgs": [], "auth": {"type": "access_token",
                                                 "accessToken": {"displayName": "tests", "role": role}}})

    def list_models(self, h, r) -> None:
        if (who := self._user(h, r, required=False)) is None:
            return
        q = r.query
        items = [m for m in self.models.values() if not m.private or m.id.split("/")[0] == who[0]]
        items = _text_filter(items, q, lambda m: m.id)
        for value in q.get("filter", []):
            items = [m for m in items if value in m.tags or value == m.library or value == m.pipeline_tag]
        if task := r.param("pipeline_tag"):
            items = [m for m in items if m.pipeline_tag == task]
        if provider := r.param("inference_provider"):
            items = [m for m in items if m.providers and (provider == "all" or provider in m.providers)]
        rows = [_model_json(m) for m in items]
        self._send_page(h, r, rows, _LIST_MODEL_FIELDS)

    def model_info(self, h, r, id: str) -> None:
        if (who := self._user(h, r, required=False)) is None:
            return
        model = self.models.get(id)
        if model is None or (model.private and id.split("/")[0] != who[0]):
            _send_not_found(h, id, anonymous=who[1] == "anonymous")
            return
        body = _model_json(model)
        expand = r.query.get("expand")
        if not expand:
            body.pop("inferenceProviderMapping")  # only sent when asked for, as on the Hub
        _send_json(h, 200, _expanded(body, expand))

    def list_datasets(self, h, r) -> None:
        if self._user(h, r, required=False) is None:
            return
        items = _text_filter([d for d in self.datasets.values() if not d.private], r.query, lambda d: d.id)
        for value in r.query.get("filter", []):
            items = [d for d in items if value in d.tags]
        self._send_page(h, r, [_dataset_json(d) for d in items], _LIST_DATASET_FIELDS)

    def dataset_info(self, h, r, id: str) -> None:
        if (who := self._user(h, r, required=False)) is None:
            return
        dataset = self.datasets.get(id)
        if dataset is None or (dataset.private and id.split("/")[0] != who[0]):
            _send_not_found(h, id, anonymous=who[1] == "anonymous")
            return
        _send_json(h, 200, _expanded(_dataset_json(dataset), r.query.get("expand")))

    def list_spaces(self, h, r) -> None:
        if (who := self._user(h, r, required=False)) is None:
            return
        items = [s for s in self.spaces.values() if not s.private or s.owner == who[0]]
        items = _text_filter(items, r.query, lambda s: s.id)   # the Hub matches the repo id, not the title
        for value in r.query.get("filter", []):
            items = [s for s in items if value == s.sdk]
        self._send_page(h, r, [self._space_json(s) for s in items], _LIST_SPACE_FIELDS)

    def space_info(self, h, r, id: str) -> None:
        if (space := self._visible_space(h, r, id)) is not None:
            _send_json(h, 200, _expanded(self._space_json(space), r.query.get("expand")))

    def semantic_search(self, h, r) -> None:
        if self._user(h, r, required=False) is None:
            return
        words = (r.param("q") or "").lower().split()
        sdks = r.query.get("sdk", [])
        found = []
        for s in self.spaces.values():
            text = f"{s.id} {s.title or ''} {s.description}".lower()
            score = sum(w in text for w in words) / max(len(words), 1)
            if s.private or score == 0 or (sdks and s.sdk not in sdks):
                continue
            if s.stage != "RUNNING" and r.param("includeNonRunning") is None:
                continue
            found.append({"author": s.owner, "createdAt": _iso(s.created_at), "emoji": s.emoji, "id": s.id,
                          "lastModified": _iso(s.last_modified), "likes": s.likes, "pinned": False,
                          "private": False, "sdk": s.sdk, "repoType": "space", "runtime": s.runtime(),
                          "shortDescription": s.short_description or s.description,
                          "title": s.title or s.id.split("/")[1], "isLikedByUser": False,
                          "ai_short_description": s.description, "ai_category": s.category,
                          "trendingScore": s.likes, "semanticRelevancyScore": round(score, 3)})
        found.sort(key=lambda x: -x["semanticRelevancyScore"])
        _send_json(h, 200, found)

    def papers_search(self, h, r) -> None:
        q = (r.param("q") or "").lower()
        hits = [p for p in self.papers if q in (p["title"] + " " + p["summary"]).lower()]
        limit = min(int(r.param("limit") or PAPER_SEARCH_CAP), PAPER_SEARCH_CAP)
        _send_json(h, 200, hits[:limit])

    def docs_search(self, h, r) -> None:
        words = (r.param("q") or "").lower().split()
        product = r.param("product")
        hits = [d for d in self.docs if any(w in (d["text"] + d["heading1"]).lower() for w in words)
                and (product is None or d["product"] == product)]
        _send_json(h, 200, hits)

    def router_model(self, h, r, id: str) -> None:
        model = self.models.get(id)
        if model is None or not model.prices:
            _send_json(h, 404, {"error": {"message": f"Model {id} not found", "type": "not_found"}})
            return
        _send_json(h, 200, {"id": id, "object": "model", "created": 1726000000, "owned_by": id.split("/")[0],
                            "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
                            "providers": model.prices})

    # ----- lifecycle

    def create_repo(self, h, r) -> None:
        body = r.json() or {}
        owner, name = body.get("organization"), body.get("name", "")
        if owner is None:
            who = self._user(h, r, required=True)
            if who is None:
                return
            owner = who[0]
        user = self._writer(h, r, owner)
        if user is None:
            return
        space_id = f"{owner}/{name}"
        if body.get("type") != "space":
            _send_json(h, 400, {"error": "This fake Hub only creates Spaces"})
            return
        if body.get("sdk") not in ("gradio", "docker", "static", "streamlit"):
            _send_json(h, 400, {"error": "Invalid sdk"})
            return
        if self.plans.get(user, "pro") == "free" and body["sdk"] in ("gradio", "docker"):
            _send_json(h, 402, {"error": "Gradio and Docker Spaces require a paid plan (PRO, Team or Enterprise)"})
            return
        if space_id in self.spaces:
            _send_json(h, 409, {"error": "You already created this space repo", "url": f"{self.url}/spaces/{space_id}"})
            return
        readme = (f"---\ntitle: {name}\nemoji: 🚀\ncolorFrom: blue\ncolorTo: green\nsdk: {body['sdk']}\n"
                  "pinned: false\n---\n")
        self.spaces[space_id] = FakeSpace(
            id=space_id, sdk=body["sdk"], private=body.get("visibility", "public") == "private", title=name,
            hardware=body.get("hardware") or "cpu-basic", files={"README.md": readme.encode()},
            stages=["RUNNING" if body["sdk"] == "static" else "NO_APP_FILE"], build_logs=[], run_logs=[],
            secrets={s["key"]: {**s, "updatedAt": _iso(BASE_TIME)} for s in body.get("secrets", [])},
            variables={v["key"]: {**v, "updatedAt": _iso(BASE_TIME)} for v in body.get("variables", [])})
        _send_json(h, 200, {"url": f"{self.url}/spaces/{space_id}", "name": space_id,
                            "id": hashlib.md5(space_id.encode()).hexdigest()[:24]})

    def delete_repo(self, h, r) -> None:
        body = r.json() or {}
        space_id = f"{body.get('organization')}/{body.get('name')}"
        if body.get("type") != "space":
            _send_json(h, 400, {"error": "This fake Hub only deletes Spaces"})
            return
        if self._owned_space(h, r, space_id) is not None:
            del self.spaces[space_id]
            _send_text(h, 200, "OK")   # recorded: text/plain "OK", not JSON

    def validate_yaml(self, h, r) -> None:
        content = (r.json() or {}).get("content", "")
        if content.startswith("---") and content.count("---") < 2:
            _send_json(h, 400, {"errors": [{"message": "Unclosed YAML front matter"}], "warnings": []})
            return
        found = re.match(r"---\n(.*?)\n---", content, re.S)
        meta = yaml.safe_load(found.group(1)) if found else None
        described = str(meta.get("short_description") or "") if isinstance(meta, dict) else ""
        if len(described.encode("utf-16-le")) // 2 > 60:   # the Hub's (Joi's) words and its JS length
            _send_json(h, 400, {"errors": [{"message": SHORT_DESCRIPTION_TOO_LONG}], "warnings": []})
            return
        _send_json(h, 200, {"errors": [], "warnings": []})

    def preupload(self, h, r, id: str, rev: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        files = (r.json() or {}).get("files", [])
        # Recorded: `oid` only for a file already in the repo, and the head commit as `commitOid`.
        _send_json(h, 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                       **({"oid": _git_oid(space.files[f["path"]])} if f["path"] in space.files
                                          else {})} for f in files], "commitOid": space.sha})

    def commit(self, h, r, id: str, rev: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        lines = r.ndjson()
        header = next((line["value"] for line in lines if line["key"] == "header"), {})
        added, deleted = {}, []
        for line in lines:
            if line["key"] == "file":
                added[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
            elif line["key"] in ("deletedFile", "deletedFolder"):
                deleted.append(line["value"]["path"])
        space.files.update(added)
        for path in deleted:
            space.files.pop(path, None)
        space.commits.append({"summary": header.get("summary"), "description": header.get("description"),
                              "files": added, "deleted": deleted})
        space.last_modified = BASE_TIME + timedelta(minutes=len(space.commits))
        if space.sdk != "static":
            space.stages = list(self.after_commit_stages)
            space.build_logs = [f"===== Build Queued at {_iso(space.last_modified)} / Commit SHA: {space.sha[:7]} =====\n",
                                "--> FROM docker.io/library/python:3.11-slim\n", "--> RUN pip install -r requirements.txt\n",
                                "--> Pushing image\n", "DONE 12.3s\n"]
            space.run_logs = ["===== Application Startup =====\n",
                              "  You can now view your Streamlit app in your browser.\n" if space.sdk == "docker"
                              else "* Running on local URL:  http://0.0.0.0:7860\n"]
        _send_json(h, 200, {"success": True, "commitOid": space.sha,
                            "commitUrl": f"{self.url}/spaces/{id}/commit/{space.sha}", "hookOutput": ""})

    def runtime(self, h, r, id: str) -> None:
        if (space := self._visible_space(h, r, id)) is None:
            return
        _send_json(h, 200, space.runtime())
        if len(space.stages) > 1:
            space.stages.pop(0)

    def restart(self, h, r, id: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        if space.sdk == "static":
            _send_json(h, 400, {"error": "Static Spaces are always running and cannot be restarted"})
            return
        space.stages = list(self.after_restart_stages)
        _send_json(h, 200, space.runtime())

    def pause(self, h, r, id: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        space.stages = ["PAUSED"]
        _send_json(h, 200, space.runtime())

    def hardware(self, h, r, id: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        flavor = (r.json() or {}).get("flavor", space.hardware)
        if self.plans.get(space.owner, "pro") == "free" and flavor != "cpu-basic":
            _send_json(h, 402, {"error": "Payment required: add a payment method to use upgraded hardware"})
            return
        space.hardware = flavor
        _send_json(h, 200, space.runtime())

    def get_secrets(self, h, r, id: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        _send_json(h, 200, {k: {"description": v.get("description"), "updatedAt": v["updatedAt"]}
                            for k, v in space.secrets.items()})

    def add_secret(self, h, r, id: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        body = r.json() or {}
        space.secrets[body["key"]] = {"value": body["value"], "description": body.get("description"),
                                      "updatedAt": _iso(BASE_TIME)}
        _send_json(h, 200, {})

    def delete_secret(self, h, r, id: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        space.secrets.pop((r.json() or {}).get("key"), None)
        _send_json(h, 200, {})

    def get_variables(self, h, r, id: str) -> None:
        if (space := self._visible_space(h, r, id)) is not None:
            _send_json(h, 200, _variables_json(space))

    def add_variable(self, h, r, id: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        body = r.json() or {}
        space.variables[body["key"]] = {"value": body["value"], "description": body.get("description"),
                                        "updatedAt": _iso(BASE_TIME)}
        _send_json(h, 200, _variables_json(space))

    def delete_variable(self, h, r, id: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        space.variables.pop((r.json() or {}).get("key"), None)
        _send_json(h, 200, _variables_json(space))

    def logs(self, h, r, id: str, kind: str) -> None:
        if (space := self._owned_space(h, r, id)) is None:
            return
        lines = space.build_logs if kind == "build" else space.run_logs
        now = datetime.now(UTC)
        events = [b"data: \n\n"]  # a keep-alive, which clients must skip
        for i, line in enumerate(lines):
            stamp = _iso(now - timedelta(seconds=len(lines) - i))
            events.append(b"data: " + json.dumps({"data": line, "timestamp": stamp}).encode() + b"\n\n")
        payload = b"".join(events)
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def duplicate(self, h, r, id: str) -> None:
        if (source := self._visible_space(h, r, id)) is None:
            return
        body = r.json() or {}
        target = body.get("repository", "")
        if self._writer(h, r, target.split("/")[0]) is None:
            return
        if target in self.spaces:
            _send_json(h, 409, {"error": "You already created this space repo", "url": f"{self.url}/spaces/{target}"})
            return
        self.spaces[target] = FakeSpace(
            id=target, sdk=source.sdk, private=body.get("visibility", "public") == "private", title=source.title,
            hardware=body.get("hardware") or source.hardware, files=dict(source.files),
            variables={k: dict(v) for k, v in source.variables.items()}, stages=["BUILDING", "RUNNING"])
        _send_json(h, 200, {"url": f"{self.url}/spaces/{target}", "filesCopyPending": False})

    # ----- shapes

    def _space_json(self, s: FakeSpace) -> dict:
        host = s.id.replace("/", "-").replace("_", "-").lower()
        return {"_id": hashlib.md5(s.id.encode()).hexdigest()[:24], "id": s.id, "author": s.owner, "sha": s.sha,
                "lastModified": _iso(s.last_modified), "createdAt": _iso(s.created_at), "private": s.private,
                "gated": False, "disabled": False, "likes": s.likes, "sdk": s.sdk, "tags": [s.sdk, "region:us"],
                "cardData": {"title": s.title or s.id.split("/")[1], "emoji": s.emoji, "sdk": s.sdk,
                             **({"app_port": 8501} if s.sdk == "docker" else {})},
                "siblings": [{"rfilename": p} for p in sorted(s.files)], "runtime": s.runtime(),
                "subdomain": host, "host": f"https://{host}.hf.space", "models": [], "datasets": [],
                "trendingScore": s.likes, "usedStorage": sum(len(b) for b in s.files.values())}

    def _send_page(self, h: BaseHTTPRequestHandler, r: RecordedRequest, rows: list[dict], list_fields: tuple) -> None:
        """Sort, page by `limit` (capped at `page_size`) and `cursor`, answer a `Link` to the next page."""
        sort = r.param("sort")
        if sort:
            rows.sort(key=lambda row: (row.get(sort) is not None, row.get(sort) or 0), reverse=True)
        start = int(r.param("cursor") or 0)
        size = min(int(r.param("limit") or self.page_size), self.page_size)
        chunk = rows[start:start + size]
        expand = r.query.get("expand")
        chunk = [_expanded(row, expand) if expand else {k: row[k] for k in list_fields if k in row} for row in chunk]
        headers = {}
        if start + size < len(rows):
            query = {k: v for k, v in r.query.items() if k != "cursor"}
            query["cursor"] = [str(start + size)]
            headers["Link"] = f'<{self.url}{r.path}?{urlencode(query, doseq=True)}>; rel="next"'
        _send_json(h, 200, chunk, headers)


_ROUTES: list[tuple[str, str, str]] = [
    ("GET", r"/api/whoami-v2", "whoami"),
    ("GET", r"/api/models", "list_models"),
    ("GET", rf"/api/models/{REPO}", "model_info"),
    ("GET", r"/api/datasets", "list_datasets"),
    ("GET", rf"/api/datasets/{REPO}", "dataset_info"),
    ("GET", r"/api/spaces", "list_spaces"),
    ("GET", r"/api/spaces/semantic-search", "semantic_search"),
    ("GET", rf"/api/spaces/{REPO}", "space_info"),
    ("GET", rf"/api/spaces/{REPO}/runtime", "runtime"),
    ("POST", rf"/api/spaces/{REPO}/restart", "restart"),
    ("POST", rf"/api/spaces/{REPO}/pause", "pause"),
    ("POST", rf"/api/spaces/{REPO}/hardware", "hardware"),
    ("GET", rf"/api/spaces/{REPO}/secrets", "get_secrets"),
    ("POST", rf"/api/spaces/{REPO}/secrets", "add_secret"),
    ("DELETE", rf"/api/spaces/{REPO}/secrets", "delete_secret"),
    ("GET", rf"/api/spaces/{REPO}/variables", "get_variables"),
    ("POST", rf"/api/spaces/{REPO}/variables", "add_variable"),
    ("DELETE", rf"/api/spaces/{REPO}/variables", "delete_variable"),
    ("GET", rf"/api/spaces/{REPO}/logs/(?P<kind>build|run)", "logs"),
    ("POST", rf"/api/spaces/{REPO}/preupload/(?P<rev>[^/]+)", "preupload"),
    ("POST", rf"/api/spaces/{REPO}/commit/(?P<rev>[^/]+)", "commit"),
    ("POST", rf"/api/spaces/{REPO}/duplicate", "duplicate"),
    ("POST", r"/api/repos/create", "create_repo"),
    ("DELETE", r"/api/repos/delete", "delete_repo"),
    ("POST", r"/api/validate-yaml", "validate_yaml"),
    ("GET", r"/api/papers/search", "papers_search"),
    ("GET", r"/api/docs/search", "docs_search"),
    ("GET", rf"/router/v1/models/{REPO}", "router_model"),
]

_DEFAULT_ERRORS = {
    400: "Bad request",
    401: "Invalid credentials in Authorization header",
    402: "Payment required: this action needs a paid plan",
    403: "You don't have the rights to perform this action",
    404: "Repository not found",
    409: "You already created this space repo",
    429: "You have exceeded the rate limit. Please retry later.",
    500: "Internal Error - We're working hard to fix this as soon as possible!",
    503: "Service Unavailable",
}
_LIST_MODEL_FIELDS = ("_id", "id", "likes", "trendingScore", "private", "downloads", "tags", "pipeline_tag",
                      "library_name", "createdAt", "modelId")
_LIST_DATASET_FIELDS = ("_id", "id", "author", "disabled", "gated", "lastModified", "likes", "trendingScore",
                        "private", "sha", "description", "downloads", "tags", "createdAt")
_LIST_SPACE_FIELDS = ("_id", "id", "author", "likes", "trendingScore", "private", "sdk", "tags", "createdAt")


def _model_json(m: FakeModel) -> dict:
    return {"_id": hashlib.md5(m.id.encode()).hexdigest()[:24], "id": m.id, "modelId": m.id,
            "author": m.id.split("/")[0], "sha": hashlib.sha1(m.id.encode()).hexdigest(),
            "lastModified": _iso(m.created_at), "createdAt": _iso(m.created_at), "private": m.private,
            "gated": False, "disabled": False, "downloads": m.downloads, "likes": m.likes,
            "library_name": m.library, "tags": list(m.tags), "pipeline_tag": m.pipeline_tag,
            "cardData": dict(m.card), "siblings": [{"rfilename": f} for f in m.files], "trendingScore": m.likes,
            "inferenceProviderMapping": {p: dict(v) for p, v in m.providers.items()}}


def _dataset_json(d: FakeDataset) -> dict:
    return {"_id": hashlib.md5(d.id.encode()).hexdigest()[:24], "id": d.id, "author": d.id.split("/")[0],
            "sha": hashlib.sha1(d.id.encode()).hexdigest(), "lastModified": _iso(d.created_at),
            "createdAt": _iso(d.created_at), "private": d.private, "gated": False, "disabled": False,
            "downloads": d.downloads, "likes": d.likes, "tags": list(d.tags), "description": d.description,
            "cardData": dict(d.card), "siblings": [{"rfilename": f} for f in d.files], "trendingScore": d.likes}


def _variables_json(space: FakeSpace) -> dict:
    return {k: {"value": v["value"], "description": v.get("description"), "updatedAt": v["updatedAt"]}
            for k, v in space.variables.items()}


def _expanded(body: dict, expand: list[str] | None) -> dict:
    """With `expand`, the Hub answers only the asked properties (plus the ids)."""
    if not expand:
        return body
    return {k: v for k, v in body.items() if k in ("_id", "id") or k in expand}


def _text_filter(items: list, query: dict[str, list[str]], text: Any) -> list:
    if search := (query.get("search") or [""])[0]:
        items = [i for i in items if search.lower() in text(i).lower()]
    if author := (query.get("author") or [""])[0]:
        items = [i for i in items if text(i).split("/")[0] == author]
    return items


def _send_not_found(h: BaseHTTPRequestHandler, repo_id: str, *, anonymous: bool = False) -> None:
    """404 RepoNotFound to a signed-in user; to an anonymous request the Hub answers 401 for private, gated
    and missing repos alike (huggingface_hub `_http.py`: "401 is misleading as it is returned for…")."""
    if anonymous:
        _send_json(h, 401, {"error": ANONYMOUS_401}, {"X-Error-Message": ANONYMOUS_401})
        return
    _send_json(h, 404, {"error": "Repository not found"},
               {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})


def _send_text(h: BaseHTTPRequestHandler, status: int, text: str) -> None:
    data = text.encode()
    h.send_response(status)
    h.send_header("Content-Type", "text/plain; charset=utf-8")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def _send_json(h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(payload).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json; charset=utf-8")
    h.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(data)


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(h.rfile.readline().strip() or b"0", 16)
            if size == 0:
                h.rfile.readline()
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else b""


def _git_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --------------------------------------------------------------------------- seeded catalogue


def _seed(hub: FakeHub) -> None:
    llama_prices = [
        {"provider": "together", "status": "live", "context_length": 131072,
         "pricing": {"input": 0.18, "output": 0.18}, "is_free": False, "supports_tools": True,
         "supports_structured_output": True, "first_token_latency_ms": 310, "throughput": 120,
         "is_model_author": False},
        {"provider": "groq", "status": "live", "context_length": 131072, "pricing": {"input": 0.05, "output": 0.08},
         "is_free": False, "supports_tools": True, "supports_structured_output": False,
         "first_token_latency_ms": 120, "throughput": 700, "is_model_author": False},
    ]
    for model in (
        FakeModel("meta-llama/Llama-3.1-8B-Instruct", likes=5000, downloads=9_000_000,
                  tags=["transformers", "safetensors", "llama", "text-generation", "license:llama3.1"],
                  card={"license": "llama3.1", "language": ["en", "de"], "pipeline_tag": "text-generation"},
                  files=["README.md", "config.json", "model-00001-of-00004.safetensors"],
                  providers={"together": {"status": "live", "providerId": "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
                                          "task": "conversational"},
                             "groq": {"status": "live", "providerId": "llama-3.1-8b-instant",
                                      "task": "conversational"}},
                  prices=llama_prices),
        FakeModel("openai-community/gpt2", likes=3000, downloads=12_000_000,
                  tags=["transformers", "pytorch", "gpt2", "text-generation", "license:mit"], card={"license": "mit"}),
        FakeModel("sentence-transformers/all-MiniLM-L6-v2", pipeline_tag="sentence-similarity",
                  library="sentence-transformers", likes=4000, downloads=80_000_000,
                  tags=["sentence-transformers", "pytorch", "feature-extraction"], card={"license": "apache-2.0"},
                  providers={"hf-inference": {"status": "live", "providerId": "sentence-transformers/all-MiniLM-L6-v2",
                                              "task": "feature-extraction"}}),
        FakeModel("Qwen/Qwen2.5-7B-Instruct", likes=1500, downloads=2_000_000,
                  tags=["transformers", "qwen2", "text-generation"], card={"license": "apache-2.0"},
                  providers={"together": {"status": "live", "providerId": "Qwen/Qwen2.5-7B-Instruct-Turbo",
                                          "task": "conversational"}}),
    ):
        hub.models[model.id] = model
    for dataset in (
        FakeDataset("HuggingFaceFW/fineweb", likes=2000, downloads=300_000, tags=["task_categories:text-generation",
                    "language:en", "license:odc-by"], description="FineWeb: 15T tokens of cleaned web data.",
                    card={"license": "odc-by"}),
        FakeDataset("openai/gsm8k", likes=800, downloads=400_000, tags=["task_categories:text2text-generation",
                    "language:en", "license:mit"], description="Grade school math word problems.",
                    card={"license": "mit"}),
        FakeDataset("stanfordnlp/imdb", likes=300, downloads=150_000, tags=["task_categories:text-classification",
                    "language:en"], description="Large movie review dataset for sentiment analysis."),
    ):
        hub.datasets[dataset.id] = dataset
    for space in (
        FakeSpace("gradio/hello-world", sdk="gradio", title="Hello World", emoji="👋", likes=120,
                  description="A tiny Gradio demo that greets you", category="Other",
                  files={"README.md": b"---\nsdk: gradio\n---\n", "app.py": b"import gradio as gr\n",
                         "requirements.txt": b"gradio\n"}),
        FakeSpace("streamlit/streamlit-template-space", sdk="docker", title="Streamlit Template", emoji="🎈",
                  likes=90, description="Starter Streamlit app on a Docker Space", category="Developer Tools"),
        FakeSpace("black-forest-labs/FLUX.1-schnell", sdk="gradio", title="FLUX.1 [schnell]", emoji="⚡",
                  likes=9000, hardware="zero-a10g", description="Generate images from text prompts fast",
                  category="Image Generation"),
        FakeSpace("bob/static-site", sdk="static", title="Bob's site", likes=3, description="A static web page"),
        FakeSpace("bob/broken-app", sdk="docker", title="Broken", stages=["BUILD_ERROR"],
                  error_message="Build failed with exit code: 1", description="Does not build"),
    ):
        hub.spaces[space.id] = space
    hub.papers = [
        {"paper": {"id": "1706.03762", "authors": [{"_id": "a1", "name": "Ashish Vaswani", "hidden": False},
                                                   {"_id": "a2", "name": "Noam Shazeer", "hidden": False}],
                   "publishedAt": "2017-06-12T17:57:34.000Z", "title": "Attention Is All You Need",
                   "summary": "The dominant sequence transduction models are based on complex recurrent networks.",
                   "upvotes": 120, "discussionId": "d1"},
         "publishedAt": "2017-06-12T17:57:34.000Z", "title": "Attention Is All You Need",
         "summary": "The dominant sequence transduction models are based on complex recurrent networks.",
         "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/1706.03762.png",
         "numComments": 4, "isAuthorParticipating": False},
        {"paper": {"id": "2307.09288", "authors": [{"_id": "a3", "name": "Hugo Touvron", "hidden": False}],
                   "publishedAt": "2023-07-18T14:31:57.000Z", "title": "Llama 2: Open Foundation and Fine-Tuned Chat Models",
                   "summary": "We develop and release Llama 2, a collection of pretrained and fine-tuned LLMs.",
                   "upvotes": 90, "discussionId": "d2"},
         "publishedAt": "2023-07-18T14:31:57.000Z", "title": "Llama 2: Open Foundation and Fine-Tuned Chat Models",
         "summary": "We develop and release Llama 2, a collection of pretrained and fine-tuned LLMs.",
         "numComments": 2, "isAuthorParticipating": False},
    ]
    hub.docs = [
        {"text": "Streamlit is no longer a built-in SDK: pick the Docker SDK and the Streamlit template.",
         "product": "hub", "heading1": "Streamlit Spaces", "heading2": "Deprecation",
         "source_page_url": "https://huggingface.co/docs/hub/spaces-sdks-streamlit",
         "source_page_title": "Streamlit Spaces"},
        {"text": "Secrets and variables are injected into Docker Spaces as runtime environment variables.",
         "product": "hub", "heading1": "Docker Spaces", "heading2": "Secrets and Variables Management",
         "source_page_url": "https://huggingface.co/docs/hub/spaces-sdks-docker#secrets-and-variables-management",
         "source_page_title": "Docker Spaces"},
        {"text": "Use HfApi.create_repo with repo_type='space' and space_sdk to create a Space programmatically.",
         "product": "huggingface_hub", "heading1": "Manage your Space",
         "source_page_url": "https://huggingface.co/docs/huggingface_hub/guides/manage-spaces",
         "source_page_title": "Manage your Space"},
    ]
