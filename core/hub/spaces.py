"""Space lifecycle: list, create, push, logs, wait, restart, pause, secrets, variables, duplicate, delete.

Each call validates names before anything is sent, turns failures into `HubActionError`, and records
every change to a Space (plus waits and refused deletions) through the injected recorder as one
`space_actions` row: `outcome` is "ok" or the error kind, `detail` short, plain and redacted. Reads
(runtime, logs, secret keys, variables, my Spaces) are not recorded: a page may poll them on every rerun.

    spaces = SpaceManager(HubClient(endpoint, token), store=store, session=session_id)
    created = spaces.create_space("console", sdk="docker-streamlit")      # private by default
    state = spaces.wait_for_stage(created.id, timeout=600, on_progress=show)
    spaces.delete(created.id, confirm=typed_text)                         # must equal the id exactly
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, SpaceHardware
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status, parse_datetime

from core.hub.client import LIBRARY_NAME, HubClient, jsonable
from core.hub.errors import HubActionError, HubErrorKind, Paywall, redact_secrets
from core.hub.names import validate_repo_id, validate_repo_name
from core.llm.keys import session_hash

logger = logging.getLogger(__name__)

# What the user picks → the Hub's `sdk`. Streamlit is a Docker Space now, seeded with our template.
SDK_CHOICES = {"docker-streamlit": "docker", "gradio": "gradio", "static": "static"}
HARDWARE_CHOICES = tuple(h.value for h in SpaceHardware)
INTERMEDIATE_STAGES = frozenset({"BUILDING", "RUNNING_BUILDING", "APP_STARTING", "RUNNING_APP_STARTING"})
ERROR_STAGES = frozenset({"BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE"})
# Not running, not broken: a visit wakes a SLEEPING Space (free hardware after its sleep time); a restart
# brings back a PAUSED or STOPPED one. SLEEPING is a Hub stage huggingface_hub's `SpaceStage` lacks.
ASLEEP_STAGES = frozenset({"SLEEPING", "PAUSED", "STOPPED"})
LOGS_LIMIT = 10.0          # s: the most `logs(follow=False)` takes, however the stream behaves
LOGS_SILENCE = 5.0         # s: a silent log stream is drained (huggingface_hub's no-follow read timeout)
MAX_FILES_PER_COMMIT = 200
MAX_DETAIL = 300
STREAMLIT_PORT = 8501
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")

_ACTION_WORDS = {
    "create": "create the Space", "push": "push files to the Space", "wait": "wait for the Space",
    "restart": "restart the Space", "pause": "pause the Space", "hardware": "change the Space hardware",
    "set_secret": "set the secret", "delete_secret": "delete the secret", "set_variable": "set the variable",
    "delete_variable": "delete the variable", "duplicate": "duplicate the Space", "delete": "delete the Space",
}


class SpaceActionRecorder(Protocol):
    """What `SpaceManager` needs of the store: one `space_actions` row per action."""

    def record_space_action(self, *, session: str | None, space_id: str, action: str, outcome: str,
                            detail: str) -> Any: ...


# Space actions that also go to the hosted-mode audit log.
_AUDITED = {"create": "space_created", "duplicate": "space_created", "delete": "space_deleted"}


@dataclass(frozen=True)
class SpaceState:
    """The runtime of a Space at one moment."""

    space_id: str
    stage: str
    hardware: str | None
    requested_hardware: str | None
    sleep_time: int | None
    error: str | None
    url: str

    @property
    def is_settled(self) -> bool:
        """True once the stage is no longer building or starting."""
        return self.stage not in INTERMEDIATE_STAGES

    @property
    def is_error(self) -> bool:
        return self.stage in ERROR_STAGES

    @property
    def is_asleep(self) -> bool:
        """Sleeping, paused or stopped: settled and not an error, but not serving either."""
        return self.stage in ASLEEP_STAGES

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


@dataclass(frozen=True)
class CommitResult:
    space_id: str
    oid: str | None
    url: str | None
    message: str
    paths: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


@dataclass(frozen=True)
class CreatedSpace:
    id: str
    url: str
    sdk: str | None       # the SDK choice made at creation; None for a duplicate (it keeps the source's)
    private: bool
    template_commit: CommitResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


@dataclass(frozen=True)
class SecretKey:
    """A secret as the Hub shows it: its value is write-only and never read back."""

    key: str
    description: str | None
    updated_at: str | None


@dataclass(frozen=True)
class Variable:
    key: str
    value: str
    description: str | None
    updated_at: str | None


@dataclass
class _Action:
    """What `SpaceManager._action` records once the body ends: the resolved id, a detail, the outcome."""

    space_id: str
    detail: str
    outcome: str = "ok"


class SpaceManager:
    """Space lifecycle for one session, over a `HubClient` (or an endpoint string and a token).

    `session` is the raw session id; rows store `core.llm.keys.session_hash(session)`, as usage rows do.
    """

    def __init__(self, hub: HubClient | str, token: str | None = None, *, store: SpaceActionRecorder | None = None,
                 session: str | None = None, max_upload_bytes: int | None = None,
                 logs_limit: float = LOGS_LIMIT):
        if isinstance(hub, HubClient):
            if token is not None:
                raise ValueError("Pass the token to the HubClient, not to SpaceManager.")
            self.hub = hub
        else:
            self.hub = HubClient(hub, token)
        self.store = store
        self.session = session
        self.max_upload_bytes = max_upload_bytes      # per push, all files together; None: no limit (local)
        self.logs_limit = logs_limit                  # s, the most one `logs(follow=False)` takes
        self._owner: str | None = None

    # ----- reads (not recorded)

    def owner(self) -> str:
        """The token's user name, asked once per manager (`whoami` is strictly rate limited)."""
        if self._owner is None:
            self._owner = self.hub.whoami()
        return self._owner

    def list_my_spaces(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """My Spaces, newest change first, as table rows with stage and hardware (never cached)."""
        owner = self.owner()
        page = self.hub.search_spaces(author=owner, sort="modified", limit=min(max(limit, 1), 100), fresh=True)
        return page.items

    def runtime(self, space_id: str) -> SpaceState:
        space_id = self._checked_id(space_id)
        with self.hub.calling("read the Space runtime", repo_id=space_id):
            return self._state(space_id, self.hub.api().get_space_runtime(space_id))

    def logs(self, space_id: str, *, build: bool = False, follow: bool = False,
             limit: float | None = None) -> Iterator[str]:
        """Build or run log lines as they come; key-shaped text in them is masked.

        With `follow=False` it drains what the Hub has buffered and ends within about `limit` seconds
        (default `self.logs_limit`), even on a stream that stays open silent or sends only keep-alives;
        with `follow=True` it keeps streaming until the Hub closes the stream (stop iterating to stop).
        """
        space_id = self._checked_id(space_id)  # checked now, not at the first `next()`
        what = "read the build logs of the Space" if build else "read the logs of the Space"
        budget = self.logs_limit if limit is None else limit

        def lines() -> Iterator[str]:
            with self.hub.calling(what, repo_id=space_id, bounded=False):
                stream = (self.hub.api().fetch_space_logs(space_id, build=build, follow=True) if follow
                          else self._drain_logs(space_id, build=build, budget=budget))
                try:
                    for line in stream:
                        yield redact_secrets(line, [self.hub.token])
                finally:
                    stream.close()  # a consumer that stops early closes the HTTP stream now, not at GC

        return lines()

    def list_secrets(self, space_id: str) -> list[SecretKey]:
        space_id = self._checked_id(space_id)
        with self.hub.calling("list the secrets of the Space", repo_id=space_id):
            secrets = self.hub.api().get_space_secrets(space_id)
        return [SecretKey(key=s.key, description=s.description, updated_at=_iso(s.updated_at))
                for s in secrets.values()]

    def list_variables(self, space_id: str) -> list[Variable]:
        space_id = self._checked_id(space_id)
        with self.hub.calling("list the variables of the Space", repo_id=space_id):
            return _variables(self.hub.api().get_space_variables(space_id))

    # ----- changes (recorded)

    def create_space(self, name: str, *, sdk: str = "docker-streamlit", private: bool = True,
                     hardware: str | None = None, title: str | None = None, template: bool = True) -> CreatedSpace:
        """Create a Space (private unless told otherwise); a docker-streamlit one gets our template,
        unless `template=False` (the caller pushes its own files next: one commit, one build).

        The template push is its own recorded action: if it fails, the Space exists (empty) and the
        raised error is about the push, so pushing again is the fix.
        """
        with self._action("create", name, new=True) as done:
            sdk = _choice("SDK", sdk, tuple(SDK_CHOICES))
            hardware = _choice("hardware", hardware, HARDWARE_CHOICES) if hardware else None
            space_id = self._new_id(name)
            done.space_id = space_id
            with self.hub.calling(_ACTION_WORDS["create"], repo_id=space_id, new_repo_id=space_id,
                                  paywall=_create_paywall(SDK_CHOICES[sdk], hardware)):
                self.hub.api().create_repo(space_id, repo_type="space", space_sdk=SDK_CHOICES[sdk],
                                           private=private, space_hardware=hardware)
            done.detail = (f"created {sdk} Space, {'private' if private else 'public'}"
                           + (f", hardware {hardware}" if hardware else ""))
        commit = None
        if sdk == "docker-streamlit" and template:
            commit = self.push_files(space_id, streamlit_template_files(title or space_id.split("/")[1]),
                                     message="Add Streamlit template (Spaces OS)")
        return CreatedSpace(id=space_id, url=self.hub.page_url(space_id), sdk=sdk, private=private,
                            template_commit=commit)

    def push_files(self, space_id: str, files: Mapping[str, str | bytes], message: str, *,
                   delete: Sequence[str] = ()) -> CommitResult:
        """Add or replace `files` (path → text or bytes) and delete `delete` paths, in one commit."""
        with self._action("push", space_id) as done:
            space_id = done.space_id
            paths = [_repo_path(p) for p in files]
            removed = [_repo_path(p) for p in delete]
            message = _commit_message(message)
            if not paths and not removed:
                raise HubActionError(HubErrorKind.INVALID_INPUT, "There are no files to push.")
            if len(paths) + len(removed) > MAX_FILES_PER_COMMIT:
                raise HubActionError(HubErrorKind.INVALID_INPUT, f"One commit takes at most "
                                     f"{MAX_FILES_PER_COMMIT} files.")
            contents = [_as_bytes(content) for content in files.values()]
            self._check_upload_size(paths, contents)
            operations: list[CommitOperationAdd | CommitOperationDelete] = [
                CommitOperationAdd(path_in_repo=path, path_or_fileobj=content)
                for path, content in zip(paths, contents, strict=True)]
            operations += [CommitOperationDelete(path_in_repo=path) for path in removed]
            with self.hub.calling(_ACTION_WORDS["push"], repo_id=space_id, paywall=Paywall.PRIVATE_STORAGE):
                info = self.hub.api().create_commit(space_id, operations, commit_message=message,
                                                    repo_type="space")
            done.detail = _listed("pushed", paths) + (_listed("; deleted", removed) if removed else "")
        return CommitResult(space_id=space_id, oid=info.oid, url=info.commit_url, message=message, paths=paths,
                            deleted=removed)

    def wait_for_stage(self, space_id: str, *, timeout: float = 600.0, poll_interval: float = 2.0,
                       on_progress: Callable[[SpaceState, float], None] | None = None) -> SpaceState:
        """Poll the runtime until the stage settles; `on_progress(state, elapsed_s)` sees every poll.

        Returns the settled state, errors included (`state.is_error`: read `logs(build=True)`);
        raises `HubActionError(kind=TIMEOUT)` when still building after `timeout` seconds.
        """
        with self._action("wait", space_id) as done:
            space_id = done.space_id
            started = time.monotonic()
            while True:
                with self.hub.calling(_ACTION_WORDS["wait"], repo_id=space_id):
                    state = self._state(space_id, self.hub.api().get_space_runtime(space_id))
                elapsed = time.monotonic() - started
                if on_progress is not None:
                    on_progress(state, elapsed)
                if state.is_settled:
                    break
                if elapsed >= timeout:
                    raise HubActionError(HubErrorKind.TIMEOUT, f"Space '{space_id}' is still {state.stage} "
                                         f"after {timeout:g} s.", "The build may still finish: read the build "
                                         "logs, then wait again.")
                time.sleep(max(0.0, min(poll_interval, timeout - elapsed)))
            done.detail = f"settled in {state.stage} after {elapsed:.0f} s"
            if state.is_error:
                done.outcome = "space_error"
        return state

    def restart(self, space_id: str, *, factory: bool = False) -> SpaceState:
        with self._action("restart", space_id) as done:
            with self.hub.calling(_ACTION_WORDS["restart"], repo_id=done.space_id):
                runtime = self.hub.api().restart_space(done.space_id, factory_reboot=factory)
            done.detail = "factory rebuild requested" if factory else "restart requested"
        return self._state(done.space_id, runtime)

    def pause(self, space_id: str) -> SpaceState:
        with self._action("pause", space_id) as done:
            with self.hub.calling(_ACTION_WORDS["pause"], repo_id=done.space_id):
                runtime = self.hub.api().pause_space(done.space_id)
            done.detail = "paused"
        return self._state(done.space_id, runtime)

    def request_hardware(self, space_id: str, hardware: str, *, sleep_time: int | None = None) -> SpaceState:
        with self._action("hardware", space_id) as done:
            hardware = _choice("hardware", hardware, HARDWARE_CHOICES)
            with self.hub.calling(_ACTION_WORDS["hardware"], repo_id=done.space_id,
                                  paywall=_hardware_paywall(hardware)):
                runtime = self.hub.api().request_space_hardware(done.space_id, hardware, sleep_time=sleep_time)
            done.detail = f"requested {hardware}" + (f", sleep after {sleep_time} s" if sleep_time else "")
        return self._state(done.space_id, runtime)

    def set_secret(self, space_id: str, key: str, value: str, *, description: str | None = None) -> None:
        """Set a secret. The value goes to the Hub only: it is never returned, recorded or shown."""
        with self._action("set_secret", space_id, secrets=[value if isinstance(value, str) else None]) as done:
            key = _env_key(key)
            if not isinstance(value, str) or not value:
                raise HubActionError(HubErrorKind.INVALID_INPUT, "The secret value is empty.")
            with self.hub.calling(_ACTION_WORDS["set_secret"], repo_id=done.space_id, secrets=[value]):
                self.hub.api().add_space_secret(done.space_id, key, value, description=description)
            done.detail = f"secret {key} set"

    def delete_secret(self, space_id: str, key: str) -> None:
        with self._action("delete_secret", space_id) as done:
            key = _env_key(key)
            with self.hub.calling(_ACTION_WORDS["delete_secret"], repo_id=done.space_id):
                self.hub.api().delete_space_secret(done.space_id, key)
            done.detail = f"secret {key} deleted"

    def set_variable(self, space_id: str, key: str, value: str, *,
                     description: str | None = None) -> list[Variable]:
        """Set a public variable (visible to anyone who can see the Space, and copied on duplicate)."""
        with self._action("set_variable", space_id) as done:
            key = _env_key(key)
            with self.hub.calling(_ACTION_WORDS["set_variable"], repo_id=done.space_id):
                result = self.hub.api().add_space_variable(done.space_id, key, str(value), description=description)
            done.detail = f"variable {key} set"
        return _variables(result)

    def delete_variable(self, space_id: str, key: str) -> list[Variable]:
        with self._action("delete_variable", space_id) as done:
            key = _env_key(key)
            with self.hub.calling(_ACTION_WORDS["delete_variable"], repo_id=done.space_id):
                result = self.hub.api().delete_space_variable(done.space_id, key)
            done.detail = f"variable {key} deleted"
        return _variables(result)

    def duplicate(self, from_id: str, to_name: str, *, private: bool = True,
                  hardware: str | None = None) -> CreatedSpace:
        """Copy a Space (files, variables; not secrets) to `to_name` (`owner/name`, or a name under me)."""
        with self._action("duplicate", to_name, new=True) as done:
            from_id = validate_repo_id(from_id, kind="space")
            hardware = _choice("hardware", hardware, HARDWARE_CHOICES) if hardware else None
            to_id = self._new_id(to_name)
            done.space_id = to_id
            with self.hub.calling(_ACTION_WORDS["duplicate"], repo_id=from_id, new_repo_id=to_id,
                                  paywall=_create_paywall(None, hardware)):
                self.hub.api().duplicate_repo(from_id, to_id, repo_type="space", private=private,
                                              space_hardware=hardware)
            done.detail = f"duplicated from {from_id}, {'private' if private else 'public'}"
        return CreatedSpace(id=to_id, url=self.hub.page_url(to_id), sdk=None, private=private)

    def delete(self, space_id: str, *, confirm: str) -> None:
        """Delete a Space for good. `confirm` must be the exact Space id, else nothing is sent."""
        with self._action("delete", space_id) as done:
            space_id = done.space_id
            if not isinstance(confirm, str) or confirm.strip() != space_id:
                raise HubActionError(HubErrorKind.NOT_CONFIRMED, f"Type the Space id '{space_id}' exactly to "
                                     "confirm; nothing was deleted.")
            with self.hub.calling(_ACTION_WORDS["delete"], repo_id=space_id):
                self.hub.api().delete_repo(space_id, repo_type="space")
            done.detail = "deleted"

    # ----- internals

    def _drain_logs(self, space_id: str, *, build: bool, budget: float) -> Iterator[str]:
        """The buffered log lines, read from the Hub's SSE stream until it is drained, its lines pass the
        server's `Date` + 1 s, or `budget` seconds have gone: whichever comes first. huggingface_hub's own
        no-follow read waits out each 5 s of silence and never ends while keep-alives keep coming."""
        deadline = time.monotonic() + budget
        url = f"{self.hub.endpoint}/api/spaces/{space_id}/logs/{'build' if build else 'run'}"
        timeout = httpx2.Timeout(self.hub.timeout, read=max(0.05, min(LOGS_SILENCE, budget)))
        headers = build_hf_headers(token=self.hub.token or False, library_name=LIBRARY_NAME)
        with get_session().stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code != 200:
                response.read()
                hf_raise_for_status(response)
            replay_end = _date_header(response)
            try:
                for line in response.iter_lines():
                    if time.monotonic() >= deadline:
                        return
                    if not line.startswith("data: {"):
                        continue  # keep-alives and blank lines
                    event = json.loads(line[len("data: "):])
                    stamp = event.get("timestamp")
                    if replay_end is not None and stamp and parse_datetime(stamp) > replay_end:
                        return
                    yield str(event.get("data", ""))
            except httpx2.ReadTimeout:
                return  # silence: what was buffered has been read

    def _check_upload_size(self, paths: Sequence[str], contents: Sequence[bytes]) -> None:
        """Refuse a push larger than `max_upload_bytes` (all files together) before anything is sent."""
        total = sum(len(c) for c in contents)
        if self.max_upload_bytes is None or total <= self.max_upload_bytes:
            return
        biggest = max(zip(contents, paths, strict=True), key=lambda pair: len(pair[0]))[1]
        raise HubActionError(HubErrorKind.INVALID_INPUT,
                             f"These files are {_size(total)} together; this console accepts at most "
                             f"{_size(self.max_upload_bytes)} per push (the largest is '{biggest[:80]}').",
                             "Push fewer or smaller files, or push them from your own machine with `hf upload`. "
                             "Nothing was sent to the Hub.")

    @contextmanager
    def _action(self, action: str, space_id: str, *, new: bool = False,
                secrets: Sequence[str | None] = ()) -> Iterator[_Action]:
        """Check the id (unless `new`: the body resolves it), run the body, record one row: "ok" or the
        error kind, redacted. Failures leave as `HubActionError`."""
        done = _Action(space_id=_shown_id(space_id), detail=action)
        try:
            if not new:
                done.space_id = validate_repo_id(space_id, kind="space")
            yield done
        except HubActionError as err:
            self._record(done.space_id, action, err.kind.value, err.message, secrets)
            raise
        except (OSError, ValueError, TimeoutError) as exc:
            err = self.hub.error(exc, action=_ACTION_WORDS[action], repo_id=done.space_id, secrets=secrets)
            self._record(done.space_id, action, err.kind.value, err.message, secrets)
            raise err from None
        self._record(done.space_id, action, done.outcome, done.detail, secrets)

    def _record(self, space_id: str, action: str, outcome: str, detail: str,
                secrets: Sequence[str | None]) -> None:
        if self.store is None:
            return
        hidden = [self.hub.token, *secrets]
        text = redact_secrets(" ".join(detail.split()), hidden)
        try:
            self.store.record_space_action(session=session_hash(self.session),
                                           space_id=redact_secrets(space_id, hidden), action=action,
                                           outcome=outcome, detail=text[:MAX_DETAIL])
            if outcome == "ok" and action in _AUDITED and hasattr(self.store, "record_audit"):
                self.store.record_audit(_AUDITED[action], session=session_hash(self.session),
                                        detail=redact_secrets(space_id, hidden))
        except Exception as exc:  # the audit row must not undo an action that already happened
            logger.warning("could not record space action %s: %s", action, type(exc).__name__)

    def _checked_id(self, space_id: str) -> str:
        try:
            return validate_repo_id(space_id, kind="space")
        except ValueError as exc:
            raise self.hub.error(exc, action="read the Space") from None

    def _new_id(self, name: str) -> str:
        """`owner/name` as given, or `name` under the token's user; the name is checked before `whoami`."""
        if isinstance(name, str) and redact_secrets(name, [self.hub.token]) != name:
            # A pasted key would become a public repo name.
            raise HubActionError(HubErrorKind.INVALID_NAME, "That name looks like an access token or API key; "
                                 "pick another name.", "Nothing was sent to the Hub.")
        if isinstance(name, str) and "/" not in name.strip():
            validate_repo_name(name)
            return validate_repo_id(name, default_owner=self.owner())
        return validate_repo_id(name, kind="space")

    def _state(self, space_id: str, runtime: Any) -> SpaceState:
        raw = getattr(runtime, "raw", None) or {}
        error = raw.get("errorMessage") if isinstance(raw, Mapping) else None
        return SpaceState(space_id=space_id, stage=str(getattr(runtime.stage, "value", runtime.stage)),
                          hardware=_plain(runtime.hardware), requested_hardware=_plain(runtime.requested_hardware),
                          sleep_time=runtime.sleep_time, error=redact_secrets(error, [self.hub.token]) or None,
                          url=self.hub.page_url(space_id))


# --------------------------------------------------------------------------- Streamlit template


def streamlit_template_files(title: str = "Streamlit app") -> dict[str, str]:
    """Our Docker + Streamlit starter: README front matter (`sdk: docker`, `app_port: 8501`), Dockerfile,
    app.py and requirements.txt. Runs as UID 1000 with XSRF off, as Spaces require."""
    plain = " ".join(str(title).split())[:60] or "Streamlit app"
    readme = (
        "---\n"
        f"title: {json.dumps(plain, ensure_ascii=False)}\n"   # a JSON string is a valid YAML scalar
        "emoji: 🛰️\n"
        "colorFrom: blue\n"
        "colorTo: gray\n"
        "sdk: docker\n"
        f"app_port: {STREAMLIT_PORT}\n"
        "pinned: false\n"
        "---\n\n"
        f"# {plain}\n\nA Streamlit app on a Docker Space, created with Spaces OS.\n"
    )
    dockerfile = (
        "FROM python:3.11-slim\n"
        "RUN useradd -m -u 1000 user\n"
        "USER user\n"
        'ENV PATH="/home/user/.local/bin:$PATH"\n'
        "WORKDIR /home/user/app\n"
        "COPY --chown=user requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        "COPY --chown=user . .\n"
        f"EXPOSE {STREAMLIT_PORT}\n"
        f'CMD ["streamlit", "run", "app.py", "--server.port={STREAMLIT_PORT}", "--server.address=0.0.0.0", \\\n'
        '     "--server.enableXsrfProtection=false"]\n'
    )
    app = (
        "import streamlit as st\n\n"
        f"st.set_page_config(page_title={plain!r})\n"
        f"st.title({plain!r})\n"
        'name = st.text_input("Your name", "world")\n'
        'st.write(f"Hello, {name}!")\n'
    )
    return {"README.md": readme, "Dockerfile": dockerfile, "app.py": app, "requirements.txt": "streamlit>=1.40\n"}


# --------------------------------------------------------------------------- pure helpers


def _create_paywall(sdk: str | None, hardware: str | None) -> Paywall | None:
    """What a 402 on create/duplicate is about: ZeroGPU hosting, else the paid plan for compute Spaces."""
    if hardware == "zero-a10g":
        return Paywall.ZERO_GPU
    return None if sdk == "static" else Paywall.SPACE_COMPUTE


def _hardware_paywall(hardware: str) -> Paywall | None:
    if hardware == "zero-a10g":
        return Paywall.ZERO_GPU
    return None if hardware == "cpu-basic" else Paywall.HARDWARE


def _date_header(response: httpx2.Response) -> datetime | None:
    """The server's `Date` + 1 s (its resolution): log lines stamped later were written after we asked."""
    try:
        return email.utils.parsedate_to_datetime(response.headers["date"]) + timedelta(seconds=1)
    except (KeyError, TypeError, ValueError):
        return None


def _choice(what: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise HubActionError(HubErrorKind.INVALID_INPUT, f"Unknown {what} '{value}': use one of "
                             f"{', '.join(allowed)}.", "Nothing was sent to the Hub.")
    return value


def _env_key(key: Any) -> str:
    if not isinstance(key, str) or not _ENV_KEY.fullmatch(key.strip()):
        raise HubActionError(HubErrorKind.INVALID_INPUT, "A secret or variable name uses letters, digits and "
                             "'_', does not start with a digit, and has at most 100 characters.",
                             "Nothing was sent to the Hub.")
    return key.strip()


def _repo_path(path: Any) -> str:
    text = path.strip().replace("\\", "/") if isinstance(path, str) else ""
    parts = text.split("/")
    if (not text or text.startswith("/") or any(p in ("", ".", "..") for p in parts)
            or parts[0] == ".git" or len(text) > 250 or not text.isprintable()):
        raise HubActionError(HubErrorKind.INVALID_INPUT, f"'{str(path)[:80]}' is not a valid file path in a "
                             "Space: use a relative path like 'app.py' or 'src/util.py'.",
                             "Nothing was sent to the Hub.")
    return text


def _commit_message(message: Any) -> str:
    text = " ".join(str(message or "").split())
    if not text:
        raise HubActionError(HubErrorKind.INVALID_INPUT, "Write a commit message.", "Nothing was sent to the Hub.")
    return text[:300]


def _as_bytes(content: str | bytes) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    raise HubActionError(HubErrorKind.INVALID_INPUT, "File contents must be text or bytes.")


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1000:.0f} KB" if n >= 1000 else f"{n} bytes"


def _listed(verb: str, paths: Sequence[str], shown: int = 5) -> str:
    names = ", ".join(paths[:shown]) + (f" (+{len(paths) - shown} more)" if len(paths) > shown else "")
    return f"{verb} {len(paths)} file{'s' if len(paths) != 1 else ''}: {names}"


def _variables(found: Mapping[str, Any]) -> list[Variable]:
    return [Variable(key=v.key, value=v.value, description=v.description, updated_at=_iso(v.updated_at))
            for v in found.values()]


def _shown_id(value: Any) -> str:
    """The id as typed, bounded, for a row about an invalid id (it gets redacted when recorded)."""
    return " ".join(str(value).split())[:193] if value is not None else ""


def _plain(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)
