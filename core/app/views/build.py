"""What the "Build from an idea" wizard needs, without Streamlit: the session's build agent, the run in a
background thread, and the run's state turned into labels, rows and commands for the page.

The agent holds this session's keys in memory, so it lives in the session state (never a process-wide
cache) and is rebuilt only when the token, the keys or the settings change. A run executes in a
`BuildJob` thread; the page never waits for it, it reads `agent.status(run_id)` from SQLite every second.

    agent = session_agent(st.session_state, router=svc.router, store=svc.store, endpoint=svc.hub_endpoint,
                          token=token, keys=session_keys(), session=who, hosted=svc.hosted)
    job = start_build(st.session_state, agent, "a sentiment analysis demo", sdk=None, private=True)
    views = step_views(agent.status(job.run_id))          # one label / state / detail lines per step
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
import time
import traceback
import zipfile
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.app.views.spaces import HubToken
from core.build.agent import DEFAULT_BUILDS_DIR, HUB_SDK, BuildAgent, DryRunLimits
from core.build.workflow import RunState, StepState, WorkflowError
from core.hub.client import HubClient
from core.hub.names import validate_repo_id, validate_repo_name
from core.hub.spaces import SpaceManager

log = logging.getLogger("spaces_os.build_view")

SDK_OPTIONS = ("auto", "docker-streamlit", "gradio", "static")
SDK_OPTION_LABELS = {"auto": "Let the agent choose (free static when it fits)",
                     "docker-streamlit": "Streamlit (Docker Space · paid plan)", "gradio": "Gradio (paid plan)",
                     "static": "Static HTML (free)"}
# Shown before the user picks an SDK: what each kind costs on the Hub.
SDK_PLAN_NOTE = ("**Docker and Gradio Spaces need a paid Hugging Face plan** (PRO, or an organisation with billing); "
                 "a **static** Space is free. Left to choose, the agent builds a static Space whenever the idea "
                 "needs no server or model.")
RUN_STATUS_LABELS = {"pending": "waiting", "running": "running", "done": "done", "failed": "failed",
                     "stopped": "stopped", "rolled_back": "rolled back"}
# `st.status` has three states; a step's own status maps onto them (pending steps get no box).
_BOX_STATES = {"running": "running", "done": "complete", "skipped": "complete", "stopped": "complete",
               "failed": "error"}
_LANGUAGES = {".py": "python", ".md": "markdown", ".html": "html", ".css": "css", ".js": "javascript",
              ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".sh": "bash"}
_AGENT_KEY = "build_agent"
_JOBS_KEY = "build_jobs"
MAX_JOBS_KEPT = 10


# --------------------------------------------------------------------------- the agent and its thread


def builds_dir_for(store: Any) -> Path:
    """Where dry runs write their files: `builds/` next to the database (so `data/builds/` by default,
    the volume on a hosted Space, a temporary folder in tests)."""
    path = str(getattr(store, "path", "") or "")
    if not path or path == ":memory:":
        return DEFAULT_BUILDS_DIR
    return Path(path).resolve().parent / "builds"


def build_token(token: HubToken, *, hosted: bool) -> tuple[HubToken, str | None]:
    """The token builds may use, and why another one is not used. On a hosted console the owner's shared
    token never creates Spaces for a visitor: without their own token a visitor gets a dry run."""
    if hosted and token.source == "shared":
        return HubToken(None, "none"), ("This hosted console does not create Spaces with its shared token: add "
                                        "your own on **Providers** to deploy.")
    return token, None


def _fingerprint(keys: Mapping[str, str]) -> str:
    text = "\n".join(f"{name}={value}" for name, value in sorted(keys.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def session_agent(state: MutableMapping[str, Any], *, router: Any, store: Any, endpoint: str, token: HubToken,
                  keys: Mapping[str, str], session: str, hosted: bool = False, allow_preview: bool = False,
                  router_url: str | None = None, builds_dir: str | Path | None = None,
                  space_session: str | None = None, max_upload_bytes: int | None = None,
                  **options: Any) -> BuildAgent:
    """This session's `BuildAgent`, kept in `state` and rebuilt only when what it was built from changes.

    It gets its own Hub client (a build thread must not share the page's search cache). With no token it
    still searches the Hub, and its runs stop before creating anything (a dry run). `max_upload_bytes` (the
    hosted policy's) bounds its pushes and, when hosted, each dry run's files. `options` go to
    `BuildAgent` (e.g. `poll_interval`)."""
    keys = {k: v for k, v in keys.items() if v}
    builds_dir = Path(builds_dir) if builds_dir is not None else builds_dir_for(store)
    identity = (endpoint, token.fingerprint, _fingerprint(keys), session, space_session, hosted, allow_preview,
                id(router), id(store), router_url, str(builds_dir), max_upload_bytes, tuple(sorted(options.items())))
    held = state.get(_AGENT_KEY)
    if isinstance(held, tuple) and len(held) == 2 and held[0] == identity:
        return held[1]
    hub = HubClient(endpoint, token.value, router_url=router_url)
    spaces = SpaceManager(hub, store=store, session=space_session or session,
                          max_upload_bytes=max_upload_bytes) if token.value else None
    dry_runs = DryRunLimits().within(max_upload_bytes) if hosted else None
    # None: the preview runs locally and stays off on a hosted console; True: the operator enabled it there.
    agent = BuildAgent(router, hub, spaces, store, keys=keys, session=session, hosted=hosted,
                       preview_enabled=True if allow_preview else None, builds_dir=builds_dir,
                       dry_run_limits=dry_runs, **options)
    state[_AGENT_KEY] = (identity, agent)
    return agent


class BuildJob:
    """One run of the agent executing (or resuming) in a background thread, so the page never waits.

    `error` is set only when the run could not be executed at all (busy, or an unexpected crash); a step's
    failure is recorded on the run itself and read back with `agent.status(run_id)`."""

    def __init__(self, agent: BuildAgent, run_id: str):
        self.agent = agent
        self.run_id = run_id
        self.error: str | None = None
        self._thread = threading.Thread(target=self._work, name=f"build-{run_id}", daemon=True)

    def start(self) -> BuildJob:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (tests only); True when it did within `timeout`."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _work(self) -> None:
        try:
            self.agent.run(self.run_id)
        except WorkflowError as err:
            self.error = str(err)
        except Exception as err:  # the thread is the last place this can be caught: say it, don't lose it
            redact = self.agent.workflow.redact            # the traceback may quote a key: never log it raw
            log.warning("build run %s crashed:\n%s", self.run_id, redact(traceback.format_exc()))
            self.error = redact(f"The build stopped unexpectedly: {type(err).__name__}: {err}")


def _jobs(state: MutableMapping[str, Any]) -> dict[str, BuildJob]:
    jobs = state.get(_JOBS_KEY)
    if not isinstance(jobs, dict):
        jobs = state[_JOBS_KEY] = {}
    return jobs


def active_job(state: MutableMapping[str, Any]) -> BuildJob | None:
    """This session's build that is still executing, if any (one at a time)."""
    return next((job for job in _jobs(state).values() if job.alive), None)


def job_for(state: MutableMapping[str, Any], run_id: str) -> BuildJob | None:
    return _jobs(state).get(run_id)


def _launch(state: MutableMapping[str, Any], agent: BuildAgent, run_id: str) -> BuildJob:
    if active_job(state) is not None:
        raise WorkflowError("A build is already running in this session: wait for it to finish.")
    jobs = _jobs(state)
    jobs.pop(run_id, None)
    for old in [rid for rid, job in jobs.items() if not job.alive][:max(0, len(jobs) - MAX_JOBS_KEPT + 1)]:
        del jobs[old]
    job = jobs[run_id] = BuildJob(agent, run_id)
    return job.start()


def check_space_name(name: str | None) -> str | None:
    """The optional Space name, checked against the Hub's rules now (not after minutes of building); None
    when empty. Raises `InvalidRepoIdError` (a `ValueError`) naming the broken rule."""
    name = (name or "").strip()
    if not name:
        return None
    return validate_repo_id(name) if "/" in name else validate_repo_name(name)


def start_build(state: MutableMapping[str, Any], agent: BuildAgent, idea: str, *, sdk: str | None = None,
                private: bool = True, name: str | None = None) -> BuildJob:
    """Record a run for `idea` and execute it in the background. Raises `ValueError` (a bad idea, SDK or
    name, in words) or `WorkflowError` (a build is already running in this session)."""
    if active_job(state) is not None:
        raise WorkflowError("A build is already running in this session: wait for it to finish.")
    run_id = agent.start(idea, sdk=None if sdk in (None, "", "auto") else sdk, private=private,
                         name=check_space_name(name))
    return _launch(state, agent, run_id)


def resume_build(state: MutableMapping[str, Any], agent: BuildAgent, run_id: str) -> BuildJob:
    """Go on with a failed, stopped or interrupted run from its last finished step, in the background."""
    return _launch(state, agent, run_id)


def is_executing(agent: BuildAgent, run_id: str) -> bool:
    """True while some thread of this process executes the run (this session's or another agent's)."""
    return agent.workflow.is_active(run_id)


# --------------------------------------------------------------------------- words for a run


def seconds_text(seconds: float | None) -> str:
    """`0.4 s`, `12 s`, `2 min 5 s`; `—` when unknown."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def money(usd: float | None) -> str:
    """`$0` for free, `<$0.01` for fractions of a cent, `$0.42` otherwise."""
    if not usd:
        return "$0"
    return "<$0.01" if usd < 0.01 else f"${usd:,.2f}"


def _step_seconds(step: StepState, now: float) -> float | None:
    if step.duration_ms is not None:
        return step.duration_ms / 1000
    if step.status == "running" and step.started_at:
        return max(0.0, now - step.started_at)
    return None


# Markdown's specials, and a colon that could open an emoji code or a Streamlit directive (`:red[…]`).
_MARKDOWN_SPECIAL = re.compile(r"([\\*_{}\[\]()#+!|$~<>]|:(?=[\w/]))")
_CODE_SPAN = re.compile(r"(`[^`\n]+`)")
_URL = re.compile(r"(?<!`)\bhttps?://[^\s`<>]*[^\s`<>.,;:)\]]")   # shown as code: not a link to a gone server


def plain(text: Any) -> str:
    """Text from a model, a note or the Hub, escaped so Markdown shows it as written (no bold, links,
    LaTeX or emoji codes), except inside `code spans`, which show as written anyway; bare URLs become code
    spans (a preview's address is gone by the time it is read).

    >>> plain("a_b costs $5")
    'a\\\\_b costs \\\\$5'
    """
    parts = _CODE_SPAN.split(_URL.sub(lambda m: f"`{m.group(0)}`", str(text)))
    return "".join(part if i % 2 else _MARKDOWN_SPECIAL.sub(r"\\\1", part) for i, part in enumerate(parts))


def step_details(step: StepState) -> list[str]:
    """What a step found or did, as Markdown lines for its box: its outputs' gist, then its progress notes
    (everything that came from elsewhere is escaped with `plain`)."""
    out = step.outputs or {}
    lines: list[str] = []
    if step.name == "understand" and out.get("title"):
        lines.append(f"**{plain(out['title'])}**" + (f": {plain(out['summary'])}" if out.get("summary") else ""))
        lines += [f"{label}: {plain(out[key])}" for key, label in (("inputs", "Input"), ("outputs", "Output"),
                                                                     ("audience", "For")) if out.get(key)]
    elif step.name == "choose":
        lines += [plain(reason) for reason in out.get("reasons") or []]
    elif step.name == "generate" and out.get("files"):
        lines.append("Files: " + ", ".join(f"`{path}`" for path in sorted(out["files"])))
    elif step.name == "validate" and out.get("checks") and step.status == "done":
        lines.append("Passed: " + ", ".join(out["checks"]) + ".")
        if out.get("fixed"):
            lines.append("Fixed by the model first: " + "; ".join(plain(p) for p in out["fixed"]))
    elif step.name == "preview" and out.get("reason"):
        lines.append(plain(out["reason"]))
    elif step.name == "create" and out.get("dry_run"):
        lines.append(f"Files written to `{out.get('build_dir')}`.")
    elif step.name == "build" and out.get("stage"):
        lines.append(f"Stage {out['stage']} after {out.get('repairs', 0)} repair(s).")
    lines += [plain(note) for note in step.notes]
    return lines


@dataclass(frozen=True)
class StepView:
    """One step as the page shows it: a `st.status` box (`box_state` running | complete | error) or, for a
    step that has not started, a plain waiting line (`box_state` None)."""

    name: str
    title: str
    status: str
    label: str
    box_state: str | None
    expanded: bool
    seconds: float | None
    lines: list[str] = field(default_factory=list)
    error: str | None = None


def step_views(state: RunState, *, now: float | None = None) -> list[StepView]:
    """Every step of the run in order, with its state, timing, notes and error in words."""
    now = time.time() if now is None else now
    views = []
    for step in state.steps:
        seconds = _step_seconds(step, now)
        timing = seconds_text(seconds) if seconds is not None else ""
        status = step.status
        if status == "running" and state.status != "running":
            status = "interrupted"            # left `running` by a process that stopped
        suffix = {"done": timing, "skipped": f"skipped · {timing}", "failed": f"failed · {timing}",
                  "stopped": "stopped here" + (" · dry run" if step.outputs.get("dry_run") else ""),
                  "running": f"running · {timing}", "interrupted": "interrupted", "pending": "waiting"}[status]
        if step.attempts > 1:
            suffix += f" · attempt {step.attempts}"
        box = _BOX_STATES.get(step.status) if status != "interrupted" else "error"
        views.append(StepView(step.name, step.title, status, f"{step.title} · {suffix}".rstrip(" ·"),
                              None if status == "pending" else box,
                              expanded=status in ("running", "failed", "interrupted", "stopped"),
                              seconds=seconds, lines=step_details(step), error=step.error))
    return views


def current_step(state: RunState) -> tuple[int, StepState] | None:
    """The step running now (1-based position and the step), if any."""
    for i, step in enumerate(state.steps, start=1):
        if step.status == "running":
            return i, step
    return None


@dataclass(frozen=True)
class Headline:
    kind: str          # info | success | warning | error
    text: str


def run_headline(state: RunState, report: Mapping[str, Any], *, executing: bool) -> Headline:
    """One sentence on where the run is: building, live at its URL, failed where and why, a dry run…"""
    total = len(state.steps)
    if executing:
        now = current_step(state)
        where = f" step {now[0]} of {total}: {now[1].title}." if now else " starting…"
        return Headline("info", f"Building **{plain(state.inputs.get('idea', ''))}** —{where}")
    if state.status == "done":
        stage = report.get("stage") or "?"
        kind = "success" if stage.startswith("RUNNING") else "warning"
        return Headline(kind, f"**{report.get('space_id')}** is {stage} "
                              f"({'private' if report.get('private') else 'public'}): "
                              f"[open it on the Hub ↗]({report.get('url')})")
    if state.status == "failed":
        return Headline("error", f"**The build failed.** {plain(state.error or 'No reason was recorded.')}")
    if state.status == "stopped" and report.get("dry_run"):
        return Headline("info", "**Dry run: nothing was created on the Hub** (there is no Hugging Face token). "
                                f"The files are in `{state.outputs.get('build_dir')}`.")
    if state.status == "stopped":
        return Headline("warning", f"**Stopped.** {plain(state.outputs.get('message') or '')}".strip())
    if state.status == "rolled_back":
        return Headline("info", f"**Rolled back.** {plain(state.outputs.get('rollback') or '')}".strip())
    return Headline("warning", "**This run is not executing** (the console may have restarted while it ran). "
                               "Resume it to go on from its last finished step.")


def can_resume(state: RunState, *, executing: bool) -> bool:
    """Failed and stopped runs resume; so does one left `running`/`pending` by a stopped process."""
    return not executing and state.status in ("failed", "stopped", "running", "pending")


def can_roll_back(state: RunState, *, executing: bool) -> bool:
    """Only a run that created a Space has something to roll back, and never while it runs."""
    return (not executing and state.status != "rolled_back"
            and bool(state.step("create").outputs.get("space_id")))


def app_facts(report: Mapping[str, Any]) -> str:
    """The caption under a run's headline: what kind of app, which model on which provider, the run id.

    >>> app_facts({"sdk": "static", "run_id": "abc"})
    'Static HTML (free) app · no model needed · run `abc`'
    """
    facts = []
    if report.get("sdk"):
        facts.append(f"{SDK_OPTION_LABELS.get(report['sdk'], report['sdk'])} app")
        facts.append(f"model `{report['model']}`" + (f" on {report['provider']}" if report.get("provider") else "")
                     if report.get("model") else "no model needed")
    facts.append(f"run `{report.get('run_id')}`")
    return " · ".join(facts)


def run_notes(state: RunState, report: Mapping[str, Any], *, hosted: bool) -> list[str]:
    """The report's notes once there is an app to run (a Space, or a dry run's files), plus why the local
    preview did not run when that matters (hosted, Gradio not installed)."""
    made = state.status == "done" or bool(report.get("dry_run"))
    notes = [str(n) for n in report.get("notes", []) if made and not str(n).startswith("Dry run:")]
    preview = state.step("preview")
    if preview.status == "skipped" and (hosted or preview.outputs.get("status") == "unavailable"):
        notes.insert(0, "Local preview: " + str(preview.outputs.get("reason") or "skipped."))
    return notes


def preview_policy(*, hosted: bool, allow_preview: bool) -> str | None:
    """Said above the form on a hosted console: whether generated apps are previewed next to it."""
    if not hosted:
        return None
    if allow_preview:
        return "Local preview is **on**: the operator enabled it for this hosted console (`hosted.allow_preview`)."
    return ("Local preview is **off** on this hosted console: running generated code next to it is a risk. "
            "The operator can enable it with `hosted.allow_preview: true`.")


def suggested_name(title: str | None) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (title or "").lower()).strip("-")[:40].strip("-")
    return slug or "my-app"


def push_commands(state: RunState, report: Mapping[str, Any]) -> str:
    """The `hf` commands that create the Space and push a dry run's folder (the agent's name if given)."""
    name = state.inputs.get("name") or suggested_name(state.step("understand").outputs.get("title"))
    repo = name if "/" in name else f"<your-user>/{name}"
    sdk = HUB_SDK.get(report.get("sdk") or "", "docker")
    visibility = "--private" if state.inputs.get("private", True) else "--public"
    folder = state.outputs.get("build_dir") or state.step("create").outputs.get("build_dir") or "<folder>"
    return (f"hf repos create {repo} --repo-type space --space-sdk {sdk} {visibility}\n"
            f"hf upload {repo} {folder} . --repo-type space")


def file_language(path: str) -> str | None:
    """The `st.code` language of a generated file."""
    if Path(path).name == "Dockerfile":
        return "docker"
    return _LANGUAGES.get(Path(path).suffix.lower())


def ordered_files(files: Mapping[str, str]) -> list[tuple[str, str]]:
    """The app file first, then README, then the rest by name."""
    first = ("app.py", "index.html", "README.md", "requirements.txt", "Dockerfile")
    return sorted(files.items(), key=lambda item: (first.index(item[0]) if item[0] in first else len(first),
                                                   item[0]))


def files_zip(files: Mapping[str, str]) -> bytes:
    """The files as a zip archive (for a download button)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in sorted(files.items()):
            archive.writestr(path, text)
    return buffer.getvalue()


def run_status_label(row: Mapping[str, Any], *, executing: bool = False) -> str:
    """A `workflow_runs` row's status in words (a dry run says so; a stale `running` says interrupted)."""
    status = row.get("status") or "?"
    outputs = row.get("outputs") or {}
    if status == "stopped" and isinstance(outputs, dict) and outputs.get("dry_run"):
        return "dry run"
    if status in ("running", "pending") and not executing:
        return "interrupted"
    return RUN_STATUS_LABELS.get(status, status)


def run_rows(runs: Sequence[Mapping[str, Any]], executing: Sequence[str] = ()) -> list[dict[str, Any]]:
    """This session's runs for a table, newest first: when, idea, status, Space, run id."""
    rows = []
    for row in runs:
        inputs = row.get("inputs") or {}
        outputs = row.get("outputs") or {}
        started = row.get("created_at")
        rows.append({"started": time.strftime("%H:%M:%S", time.localtime(started)) if started else "",
                     "idea": inputs.get("idea", ""),
                     "status": run_status_label(row, executing=row.get("id") in executing),
                     "space": (outputs.get("space_id") if isinstance(outputs, dict) else None) or "",
                     "run": row.get("id")})
    return rows


def run_choice_label(row: Mapping[str, Any], *, executing: bool = False) -> str:
    """`a sentiment analysis demo · done · 14:02:11` for the run picker."""
    inputs = row.get("inputs") or {}
    idea = str(inputs.get("idea", ""))
    idea = idea if len(idea) <= 50 else idea[:49] + "…"
    started = row.get("created_at")
    when = time.strftime("%H:%M:%S", time.localtime(started)) if started else ""
    return " · ".join(x for x in (idea, run_status_label(row, executing=executing), when) if x)
