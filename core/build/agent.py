"""The build-and-deploy agent: one sentence in, a running Space out, repaired from its own build logs.

Eight steps, each persisted by `core.build.workflow` (so a run is followed live, resumed after a restart
and rolled back on request):

1. understand  the idea → task, inputs, outputs, audience (through the router, as JSON)
2. choose      the SDK (gradio | static | docker-streamlit) and a model with a live inference provider
3. generate    the files through the router, in the strict block format of `core.build.file_format`
               (re-asked once with the parse error when malformed)
4. validate    Python compiles, front matter keys for the SDK, requirements parse, no secrets, the
               token read from the environment (one fix is asked of the model if something fails)
5. preview     a sandboxed local run in the app's own environment that must answer and (Streamlit) run the
               script in a session (`core.build.preview`); a failure's log tail goes to the model for a
               fix, up to `max_repairs` times, before anything is pushed
6. create      the Space (private by default) and commit the files; with no HF token this is a dry
               run: the run stops, the files are written under `data/builds/<run_id>/`, ready to push
7. build       follow the build; on an error stage pass the log tail to the model, commit its fix,
               up to `max_repairs` times
8. report      URL, time per step, cost (the usage rows tagged with the run id)

    agent = BuildAgent(router, hub, spaces, store, keys=session_keys, session=session_id)
    run_id = agent.start("a sentiment analysis demo")
    state = agent.run(run_id, on_event=show)       # state.status: done | failed | stopped
    agent.report(run_id)["url"]; agent.rollback(run_id)

Every router call carries the marker line `[spaces-os build-agent: <step>]`, so the demo provider
answers it from tested templates (`core.demo.builds`). Keys and tokens are never stored: a run resumed
after a restart uses the keys of the agent that resumes it.
"""

from __future__ import annotations

import ast
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from core.build.file_format import FileFormatError, parse_files, render_files, write_files
from core.build.preview import Limits, preview_app
from core.build.preview_env import PreviewEnvs
from core.build.shadowing import shadowing_problems
from core.build.workflow import (
    RunState,
    Step,
    StepContext,
    StepEvent,
    StepFailed,
    StepResult,
    StopRun,
    Workflow,
)
from core.errors import ConfigError
from core.hub.errors import HubActionError, HubErrorKind
from core.llm.keys import redact, session_hash
from core.llm.yaml_loader import load_yaml

if TYPE_CHECKING:
    from core.hub.client import HubClient
    from core.hub.spaces import SpaceManager
    from core.llm.router import Router

WORKFLOW = "build_space"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BUILDS_DIR = ROOT / "data" / "builds"
DEFAULT_PREVIEW_ENVS_DIR = ROOT / "data" / "preview-envs"
# The Gradio a generated Gradio Space pins (README `sdk_version`), so it builds the same tomorrow.
GRADIO_SDK_VERSION = "6.31.0"
SDKS = ("docker-streamlit", "gradio", "static")
HUB_SDK = {"docker-streamlit": "docker", "gradio": "gradio", "static": "static"}
REQUIRED_FILES = {
    "docker-streamlit": ("app.py", "requirements.txt", "README.md", "Dockerfile"),
    "gradio": ("app.py", "requirements.txt", "README.md"),
    "static": ("index.html", "README.md"),
}
# When the Hub can't be searched: a model known to be served for the task.
DEFAULT_MODELS = {
    "text-classification": ("distilbert/distilbert-base-uncased-finetuned-sst-2-english", "hf-inference"),
    "text-generation": ("meta-llama/Llama-3.1-8B-Instruct", "auto"),
}
SPACE_COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
STREAMLIT_PORT = 8501
MAX_IDEA_CHARS = 2000
LOG_TAIL_LINES = 40
REPAIRABLE_STAGES = ("BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE")
PREVIEW_STAGE = "PREVIEW_ERROR"    # what the repair prompt calls a failed local preview
MAX_FRONT_MATTER_BYTES = 16 * 1024
MAX_RUNS_COUNTED = 1000            # a visitor's runs looked at for their dry-run disk use


@dataclass(frozen=True)
class DryRunLimits:
    """How much a hosted dry run may write under `builds_dir`: per run, per visitor (all the dry runs of their
    session) and for every visitor together."""

    max_files_per_run: int = 20
    max_bytes_per_run: int = 2_000_000
    max_files_per_visitor: int = 100
    max_bytes_per_visitor: int = 10_000_000
    max_bytes_total: int = 200_000_000

    def within(self, max_upload_bytes: int | None) -> DryRunLimits:
        """These limits with a run no larger than one push may be (`hosted.max_upload_bytes`)."""
        if max_upload_bytes is None:
            return self
        return replace(self, max_bytes_per_run=min(self.max_bytes_per_run, max_upload_bytes))

    def refusal(self, files: Mapping[str, str], visitor_use: tuple[int, int], total_bytes: int) -> str | None:
        """Why writing `files` would cross a limit (plain words), or None when it fits. `visitor_use` is the
        (files, bytes) the visitor's earlier dry runs hold; `total_bytes` what all dry runs hold."""
        sizes = [len(text.encode("utf-8")) for text in files.values()]
        visitor_files, visitor_bytes = visitor_use
        if len(sizes) > self.max_files_per_run:
            return f"the run has {len(sizes)} files; a dry run here keeps at most {self.max_files_per_run}"
        if sum(sizes) > self.max_bytes_per_run:
            return (f"the files are {sum(sizes):,} bytes together; a dry run here keeps at most "
                    f"{self.max_bytes_per_run:,}")
        if visitor_files + len(sizes) > self.max_files_per_visitor:
            return (f"your dry runs already hold {visitor_files} files; this console keeps at most "
                    f"{self.max_files_per_visitor} per visitor")
        if visitor_bytes + sum(sizes) > self.max_bytes_per_visitor:
            return (f"your dry runs already hold {visitor_bytes:,} bytes; this console keeps at most "
                    f"{self.max_bytes_per_visitor:,} per visitor")
        if total_bytes + sum(sizes) > self.max_bytes_total:
            return f"the dry runs of all visitors already fill the {self.max_bytes_total:,} bytes this console keeps"
        return None

# ----------------------------------------------------------------------------- the prompt protocol

MARKER_PREFIX = "[spaces-os build-agent:"
_MARKER = re.compile(r"^\[spaces-os build-agent: (?P<step>[a-z_]+)\]\s*$", re.MULTILINE)


def marker(step: str) -> str:
    """The line that tags a build-agent prompt, e.g. `[spaces-os build-agent: generate]`."""
    return f"{MARKER_PREFIX} {step}]"


def marked_step(text: str | None) -> str | None:
    """The build-agent step a prompt is tagged with (its marker line), or None."""
    found = _MARKER.search(text or "") if MARKER_PREFIX in (text or "") else None
    return found.group("step") if found else None


def embed_json(label: str, value: Any) -> str:
    """A labelled JSON block inside a prompt; `extract_json(prompt, label)` reads it back."""
    return f"{label}:\n```json\n{json.dumps(value, indent=1, ensure_ascii=False)}\n```"


def extract_json(text: str, label: str) -> Any:
    found = re.search(rf"^{re.escape(label)}:\n```json\n(.*?)\n```", text or "", re.MULTILINE | re.DOTALL)
    if not found:
        return None
    try:
        return json.loads(found.group(1))
    except ValueError:
        return None


FORMAT_RULES = """Answer with files only, each one in this exact format and nothing else:
=== FILE: <relative/path> ===
<the whole content of the file>
=== END FILE ===
No Markdown code fences, no text outside the blocks."""

UNDERSTAND_SYSTEM = """You turn an app idea into a short plan for a small Hugging Face Space demo.
Answer with one JSON object and nothing else, with these keys:
"title" (at most 40 characters), "summary" (one sentence, at most 100 characters),
"task" (the Hugging Face pipeline tag of the model it needs, e.g. "text-classification" or
"text-generation"; null when no model is needed), "inputs" (what the user gives), "outputs" (what
the app shows), "audience" (who it is for), "sdk_preference" ("gradio", "static", "docker-streamlit"
or null when the idea does not say)."""

GENERATE_SYSTEM = """You write complete, working Hugging Face Space apps.
""" + FORMAT_RULES + """
Rules:
- Inference goes through huggingface_hub.InferenceClient(provider=..., api_key=os.environ.get("HF_TOKEN"))
  (or os.environ["HF_TOKEN"]); never write a key or token in a file, never use st.secrets.
- README.md starts with YAML front matter between --- lines.
- docker-streamlit: files app.py, requirements.txt (with streamlit), README.md (sdk: docker,
  app_port: 8501) and a Dockerfile that passes hadolint (python:3.11-slim, a user with UID 1000 and
  `USER 1000`, pip install --no-cache-dir, streamlit run app.py
  --server.port=8501 --server.address=0.0.0.0 --server.enableXsrfProtection=false).
- gradio: app.py, requirements.txt, README.md (sdk: gradio, sdk_version: \"""" + GRADIO_SDK_VERSION + """\",
  app_file: app.py, python_version: "3.11").
- static: index.html, README.md (sdk: static, app_file: index.html); no server code."""


class BuildAgent:
    """The build workflow over a router, a Hub client and a Space manager (either may be None: offline / dry run)."""

    def __init__(self, router: Router, hub: HubClient | None = None, spaces: SpaceManager | None = None,
                 store: Any = None, *, keys: Mapping[str, str] | None = None, session: str | None = None,
                 hosted: bool = False, preview_enabled: bool | None = None, max_repairs: int = 2,
                 builds_dir: str | Path = DEFAULT_BUILDS_DIR, poll_interval: float = 2.0,
                 build_timeout: float = 900.0, preview_limits: Limits | None = None, model: str | None = None,
                 provider: str | None = None, dry_run_limits: DryRunLimits | None = None,
                 preview_envs: PreviewEnvs | None = None):
        self.router = router
        self.hub = hub
        self.spaces = spaces
        self.store = store if store is not None else router.store
        if self.store is None:
            raise ValueError("The build agent needs a store (the router's or its own).")
        self.keys = {k: v for k, v in (keys or {}).items() if v}
        self.session = session
        self.hosted = hosted
        self.preview_enabled = preview_enabled
        self.max_repairs = max(0, int(max_repairs))
        self.builds_dir = Path(builds_dir)
        self.poll_interval = poll_interval
        self.build_timeout = build_timeout
        self.preview_limits = preview_limits or Limits()
        self.preview_envs = preview_envs or PreviewEnvs(DEFAULT_PREVIEW_ENVS_DIR)
        # Hosted dry runs are visitors writing to the console's disk: always bounded there.
        self.dry_run_limits = dry_run_limits or (DryRunLimits() if hosted else None)
        self.model = model
        self.provider = provider
        self.workflow = Workflow(WORKFLOW, [
            Step("understand", "Understand the idea", self._understand),
            Step("choose", "Choose the SDK and the model", self._choose, needs=("understand",)),
            Step("generate", "Generate the files", self._generate, needs=("understand", "choose")),
            Step("validate", "Validate the files", self._validate, needs=("understand", "choose", "generate")),
            Step("preview", "Local preview", self._preview, needs=("understand", "choose", "validate")),
            Step("create", "Create the Space and commit", self._create,
                 needs=("understand", "choose", "validate", "preview")),
            Step("build", "Follow the build", self._follow_build,
                 needs=("understand", "choose", "validate", "preview", "create")),
            Step("report", "Report", self._report_step, needs=("choose", "create", "build")),
        ], self.store, secrets=self._secrets)

    # ------------------------------------------------------------------ public API

    def start(self, idea: str, *, sdk: str | None = None, private: bool = True, name: str | None = None) -> str:
        """Record a new run for `idea` and return its id (nothing runs until `run`)."""
        idea = " ".join(str(idea or "").split())
        if not idea:
            raise ValueError("Describe the app in a sentence first.")
        if len(idea) > MAX_IDEA_CHARS:
            raise ValueError(f"Keep the idea under {MAX_IDEA_CHARS} characters.")
        if sdk is not None and sdk not in SDKS:
            raise ValueError(f"Unknown SDK '{sdk}': use one of {', '.join(SDKS)}.")
        inputs = {"idea": idea, "sdk": sdk, "private": bool(private), "name": name, "max_repairs": self.max_repairs}
        return self.workflow.create(inputs, session=session_hash(self.session))

    def run(self, run_id: str, *, on_event: Callable[[StepEvent], None] | None = None) -> RunState:
        """Run or resume `run_id` until it is done, failed or stopped (a dry run); see `core.build.workflow`."""
        return self.workflow.run(run_id, on_event=on_event)

    resume = run

    def status(self, run_id: str) -> RunState:
        return self.workflow.state(run_id)

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """This session's recent build runs, newest first (rows of `workflow_runs`)."""
        return self.store.list_workflow_runs(workflow=WORKFLOW, session=session_hash(self.session), limit=limit)

    def files(self, run_id: str) -> dict[str, str]:
        """The latest files of the run (after repairs), or {} before they are generated."""
        state = self.status(run_id)
        for name in ("build", "preview", "validate", "generate"):
            step = state.step(name)
            files = step.outputs.get("files")
            if isinstance(files, dict) and files:
                return files
        return {}

    def report(self, run_id: str) -> dict[str, Any]:
        """URL, stage, time per step and cost of a run, at any point of its life."""
        return self._report(self.status(run_id))

    def rollback(self, run_id: str) -> RunState:
        """Delete the Space this run created (the run becomes `rolled_back`); nothing to delete is fine."""
        return self.workflow.rollback(run_id, self._undo)

    # ------------------------------------------------------------------ steps

    def _understand(self, ctx: StepContext) -> dict[str, Any]:
        messages = [{"role": "system", "content": UNDERSTAND_SYSTEM},
                    {"role": "user", "content": f"{marker('understand')}\n"
                                                f"{embed_json('IDEA', {'idea': ctx.inputs['idea']})}"}]
        text = self._chat(ctx, messages, max_tokens=600)
        try:
            raw = _json_object(text)
        except ValueError as first:
            ctx.note(f"The plan was not valid JSON ({first}); asking once more.")
            retry = [*messages, {"role": "assistant", "content": text[:4000]},
                     {"role": "user", "content": f"{marker('understand')}\nThat was not a valid JSON object "
                                                 f"({first}). Answer with the JSON object only."}]
            try:
                raw = _json_object(self._chat(ctx, retry, max_tokens=600))
            except ValueError as second:
                raise StepFailed(f"The model did not describe the idea as JSON, twice: {second}") from None
        understanding = _understanding(raw, ctx.inputs["idea"])
        if understanding["note"]:
            ctx.note(understanding["note"])
        return understanding

    def _choose(self, ctx: StepContext) -> dict[str, Any]:
        plan = ctx.outputs["understand"]
        sdk = ctx.inputs.get("sdk") or plan.get("sdk_preference") or (
            "static" if not plan.get("task") else "docker-streamlit")
        reasons = [f"SDK {sdk}: " + ("asked for by the operator." if ctx.inputs.get("sdk") else
                                      "the plan asks for it." if plan.get("sdk_preference") else
                                      "no model needed, and static Spaces are free." if sdk == "static" else
                                      "Streamlit on a Docker Space is the default.")]
        if sdk == "static" or not plan.get("task"):
            if sdk != "static":
                reasons.append("No model: the plan names no task that needs one.")
            return {"sdk": sdk, "hub_sdk": HUB_SDK[sdk], "model": None, "provider": None, "offers": [],
                    "candidates": [], "reasons": reasons}
        task = plan["task"]
        model, provider, offers, candidates, why = self._pick_model(ctx, task)
        reasons.append(why)
        return {"sdk": sdk, "hub_sdk": HUB_SDK[sdk], "task": task, "model": model, "provider": provider,
                "offers": offers, "candidates": candidates, "reasons": reasons}

    def _generate(self, ctx: StepContext) -> dict[str, Any]:
        plan = _plan(ctx.outputs["understand"], ctx.outputs["choose"])
        required = REQUIRED_FILES[plan["sdk"]]
        messages = [{"role": "system", "content": GENERATE_SYSTEM},
                    {"role": "user", "content": f"{marker('generate')}\nWrite the app described by this plan. "
                                                f"Files needed: {', '.join(required)}.\n{embed_json('PLAN', plan)}"}]
        files, reasked = self._ask_files(ctx, messages, "generate", required)
        return {"files": files, "reasked": reasked}

    def _validate(self, ctx: StepContext) -> dict[str, Any]:
        plan = _plan(ctx.outputs["understand"], ctx.outputs["choose"])
        files = dict(ctx.outputs["generate"]["files"])
        problems = validate_files(files, plan["sdk"])
        fixed: list[str] = []
        if problems:
            ctx.note(f"{len(problems)} problem(s) found; asking the model for a fix once.")
            messages = [{"role": "system", "content": GENERATE_SYSTEM},
                        {"role": "user", "content": f"{marker('fix')}\nThese files break the rules:\n"
                                                    + "\n".join(f"- {p}" for p in problems)
                                                    + "\nAnswer with the corrected files (only those that change)."
                                                    f"\n{embed_json('PLAN', plan)}\n\nCURRENT FILES:\n"
                                                    + render_files(files)}]
            changed, _ = self._ask_files(ctx, messages, "fix", ())
            files.update(changed)
            fixed, problems = problems, validate_files(files, plan["sdk"])
            if problems:
                raise StepFailed("The files still break the rules after one fix: " + "; ".join(problems))
        return {"files": files, "fixed": fixed, "checks": list(CHECKS)}

    def _preview(self, ctx: StepContext) -> dict[str, Any] | StepResult:
        """Run the app locally; when it fails, its log tail goes to the model (as a build log does), the fix is
        validated and previewed again, up to `max_repairs` times."""
        plan = _plan(ctx.outputs["understand"], ctx.outputs["choose"])
        saved = dict(ctx.saved)
        files = dict(saved.get("files") or ctx.outputs["validate"]["files"])
        repairs, history = int(saved.get("repairs", 0)), list(saved.get("history", []))
        max_repairs = int(ctx.inputs.get("max_repairs", self.max_repairs))
        while True:
            result = preview_app(files, plan["sdk"], hosted=self.hosted, enabled=self.preview_enabled,
                                 limits=self.preview_limits, envs=self.preview_envs)
            outputs = {**result.to_dict(), "files": files, "repairs": repairs, "history": history}
            if result.status in ("skipped", "unavailable"):
                return StepResult(outputs, status="skipped", message=result.reason)
            if result.ok:
                return StepResult(outputs, message=result.reason)
            tail = redact(result.log_tail, self._secrets()).splitlines()[-LOG_TAIL_LINES:]
            history.append({"stage": PREVIEW_STAGE, "error": result.reason, "log_tail": tail[-15:]})
            if repairs >= max_repairs:
                raise StepFailed(result.reason + (f" (after {repairs} repair(s))" if repairs else "")
                                 + ("\nLast output:\n" + "\n".join(tail[-10:]) if tail else ""))
            repairs += 1
            ctx.note(f"The preview failed: asking the model for a fix (repair {repairs} of {max_repairs}).")
            changed = self._repair(ctx, plan, files, PREVIEW_STAGE, result.reason, tail)
            if not changed:
                raise StepFailed(f"{result.reason} The model changed nothing to fix it."
                                 + ("\nLast output:\n" + "\n".join(tail[-10:]) if tail else ""))
            files.update(changed)
            problems = validate_files(files, plan["sdk"])
            if problems:
                raise StepFailed("The preview's repair breaks the rules: " + "; ".join(problems))
            ctx.checkpoint({"files": files, "repairs": repairs, "history": history})
            ctx.note(f"Changed {', '.join(sorted(changed))}; previewing again.")

    def _create(self, ctx: StepContext) -> dict[str, Any]:
        plan = _plan(ctx.outputs["understand"], ctx.outputs["choose"])
        files = _checked_files(ctx)
        if self.spaces is None or not self.spaces.hub.has_token:
            folder = self._dry_run_folder(ctx.run_id, files)
            write_files(folder, files)
            raise StopRun(f"Dry run: there is no Hugging Face token, so nothing was created. The files are in "
                          f"{_shown_path(folder)}, ready to push (add a token and resume this run, or "
                          f"`hf upload <you>/<space> {_shown_path(folder)} . --repo-type space`).",
                          {"dry_run": True, "build_dir": str(folder), "files": sorted(files)})
        previous, private = dict(ctx.saved), bool(ctx.inputs.get("private", True))
        name = previous.get("name") or ctx.inputs.get("name") or _space_name(plan["title"], ctx.run_id)
        space_id, url = previous.get("space_id"), previous.get("url")
        if not space_id:
            ctx.checkpoint({"name": name, "requested": True})
            try:
                # No template commit: our files follow at once, so the Space builds once, not twice.
                created = self.spaces.create_space(name, sdk=plan["sdk"], private=private, title=plan["title"],
                                                   template=False)
                space_id, url = created.id, created.url
            except HubActionError as err:
                # Our own earlier attempt created it before a crash: the name carries the run id.
                if err.kind != HubErrorKind.NAME_TAKEN or not previous.get("requested"):
                    raise
                space_id = name if "/" in name else f"{self.spaces.owner()}/{name}"
                url = self.spaces.hub.page_url(space_id)
                ctx.note(f"{space_id} was created by an earlier attempt of this run; it is reused.")
            ctx.checkpoint({"name": name, "space_id": space_id, "url": url, "created": True})
            ctx.note(f"Created {space_id} ({'private' if private else 'public'}).")
        commit = self.spaces.push_files(space_id, files, message=f"Build agent: {plan['title']} (run {ctx.run_id})")
        ctx.note(f"Committed {len(files)} files.")
        return {"space_id": space_id, "url": url, "created": True, "private": private,
                "commit": commit.oid, "files": sorted(files)}

    def _follow_build(self, ctx: StepContext) -> dict[str, Any]:
        plan = _plan(ctx.outputs["understand"], ctx.outputs["choose"])
        space_id = ctx.outputs["create"]["space_id"]
        saved = dict(ctx.saved)
        files = dict(saved.get("files") or _checked_files(ctx))
        repairs, history = int(saved.get("repairs", 0)), list(saved.get("history", []))
        commits = list(saved.get("commits", [ctx.outputs["create"].get("commit")]))
        max_repairs = int(ctx.inputs.get("max_repairs", self.max_repairs))
        while True:
            seen: list[str] = []

            def progress(state: Any, elapsed: float, seen: list[str] = seen) -> None:
                if not seen or seen[-1] != state.stage:
                    seen.append(state.stage)
                    ctx.note(f"{state.stage} after {elapsed:.0f} s")

            state = self.spaces.wait_for_stage(space_id, timeout=self.build_timeout, poll_interval=self.poll_interval,
                                               on_progress=progress)
            if state.stage not in REPAIRABLE_STAGES:
                break
            tail = self._log_tail(space_id, state.stage)
            history.append({"stage": state.stage, "error": state.error, "log_tail": tail[-15:]})
            if repairs >= max_repairs:
                raise StepFailed(f"The Space is in {state.stage} after {repairs} repair(s)."
                                 + (f" {state.error}." if state.error else "")
                                 + ("\nLast log lines:\n" + "\n".join(tail[-10:]) if tail else ""))
            repairs += 1
            ctx.note(f"{state.stage}: asking the model for a fix (repair {repairs} of {max_repairs}).")
            changed = self._repair(ctx, plan, files, state.stage, state.error, tail)
            if changed:
                files.update(changed)
                problems = validate_files(files, plan["sdk"])
                if problems:
                    raise StepFailed("The repair breaks the rules: " + "; ".join(problems))
                commit = self.spaces.push_files(space_id, changed, message=f"Build agent: repair {repairs} after "
                                                                            f"{state.stage} (run {ctx.run_id})")
                commits.append(commit.oid)
            else:
                self.spaces.restart(space_id, factory=True)
            # Saved before anything else happens: a resumed run must not repeat this repair.
            ctx.checkpoint({"files": files, "repairs": repairs, "history": history, "commits": commits})
            ctx.note(f"Committed the fix to {', '.join(sorted(changed))}." if changed else
                     "The model changed nothing; rebuilding from scratch in case the failure was transient.")
        return {"stage": state.stage, "url": state.url, "repairs": repairs, "history": history,
                "commits": commits, "files": files}

    def _report_step(self, ctx: StepContext) -> dict[str, Any]:
        return {**self._report(self.status(ctx.run_id)), "status": "done"}   # the run is done once this returns

    # ------------------------------------------------------------------ helpers

    def _secrets(self) -> list[str | None]:
        token = self.spaces.hub.token if self.spaces is not None else self.hub.token if self.hub is not None else None
        return [*self.keys.values(), token]

    def _chat(self, ctx: StepContext, messages: list[dict[str, Any]], *, max_tokens: int = 4096) -> str:
        result = self.router.chat(messages, model=self.model, provider=self.provider, keys=self.keys,
                                  session=self.session, task_id=ctx.run_id, max_tokens=max_tokens,
                                  temperature=0.2, deadline=240)
        ctx.note(f"Asked {result.provider} ({result.model or 'its default model'}): "
                 f"{len(result.text):,} characters back.")
        return result.text

    def _ask_files(self, ctx: StepContext, messages: list[dict[str, Any]], step: str,
                   required: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
        """Files from the model; a malformed answer is re-asked once, with the parse error."""
        text = self._chat(ctx, messages)
        try:
            return _files_with(text, required), []
        except FileFormatError as first:
            ctx.note(f"The files could not be read ({first}); asking once more.")
            retry = [*messages, {"role": "assistant", "content": text[:20000]},
                     {"role": "user", "content": f"{marker(step)}\nYour answer could not be read: {first}.\n"
                                                 f"Answer again with the files only.\n{FORMAT_RULES}"}]
            try:
                return _files_with(self._chat(ctx, retry), required), [str(first)]
            except FileFormatError as second:
                raise StepFailed(f"The model's files could not be read, twice: {second}") from None

    def _pick_model(self, ctx: StepContext, task: str) -> tuple[str, str, list[dict], list[str], str]:
        """The most downloaded model for `task` that a live inference provider serves (Hub search)."""
        candidates: list[str] = []
        if self.hub is not None:
            try:
                page = self.hub.search_models(task=task, inference_provider="all", sort="downloads", limit=5)
                candidates = [row["id"] for row in page.items]
                for model_id in candidates[:3]:
                    details = self.hub.model_details(model_id)
                    live = [o for o in details.providers if (o.status or "live") == "live"]
                    if live:
                        best = next((o for o in live if o.task in (task, "conversational")), live[0])
                        offers = [{"provider": o.provider, "status": o.status, "task": o.task,
                                   "price_input": o.price_input, "price_output": o.price_output} for o in live]
                        return (model_id, best.provider, offers, candidates,
                                f"Model {model_id}: the most downloaded {task} model with a live inference "
                                f"provider ({', '.join(o.provider for o in live)}).")
            except HubActionError as err:
                ctx.note(f"Hub search failed ({err.message}); using a known model.")
        if task not in DEFAULT_MODELS:
            raise StepFailed(f"No model with a live inference provider was found for the task '{task}'.")
        model_id, provider = DEFAULT_MODELS[task]
        where = "the Hub search found none with a live provider" if self.hub is not None else "the Hub is not searched"
        return model_id, provider, [], candidates, f"Model {model_id}: a known {task} model ({where})."

    def _dry_run_folder(self, run_id: str, files: Mapping[str, str]) -> Path:
        """`builds_dir/<run_id>`, where a dry run writes its files; when bounded (hosted), only after the limits
        are checked against this visitor's earlier dry runs and all of them (StepFailed when crossed)."""
        folder = self.builds_dir / run_id
        if self.dry_run_limits is None:
            return folder
        earlier = [self.builds_dir / r["id"] for r in self.store.list_workflow_runs(
            workflow=WORKFLOW, session=session_hash(self.session), limit=MAX_RUNS_COUNTED) if r["id"] != run_id]
        uses = [_disk_use(path) for path in earlier]
        visitor_use = (sum(n for n, _ in uses), sum(b for _, b in uses))
        why = self.dry_run_limits.refusal(files, visitor_use, _disk_use(self.builds_dir)[1])
        if why:
            raise StepFailed(f"Dry run refused: {why}. Nothing was written. Add your own Hugging Face token on "
                             "Providers to deploy instead, or ask the operator to clear old builds.")
        return folder

    def _log_tail(self, space_id: str, stage: str) -> list[str]:
        try:
            lines = [line.rstrip("\n") for line in self.spaces.logs(space_id, build=stage != "RUNTIME_ERROR")]
        except HubActionError:
            return []
        return lines[-LOG_TAIL_LINES:]

    def _repair(self, ctx: StepContext, plan: dict[str, Any], files: dict[str, str], stage: str,
                error: str | None, tail: list[str]) -> dict[str, str]:
        """The files the model changes to fix a failed build (only those that differ)."""
        messages = [{"role": "system", "content": GENERATE_SYSTEM},
                    {"role": "user", "content": f"{marker('repair')}\nThe Space failed with {stage}. Fix the "
                                                "files. Answer with the corrected files only (files you leave "
                                                "out stay as they are).\n"
                                                + embed_json("BUILD", {"stage": stage, "error": error,
                                                                       "log_tail": tail})
                                                + f"\n{embed_json('PLAN', plan)}\n\nCURRENT FILES:\n"
                                                + render_files(files)}]
        proposed, _ = self._ask_files(ctx, messages, "repair", ())
        return {path: text for path, text in proposed.items() if files.get(path) != text}

    def _report(self, state: RunState) -> dict[str, Any]:
        self.store.flush()
        usage = self.store.usage_totals(state.id)
        create = state.step("create").outputs
        build = state.step("build").outputs
        choose = state.step("choose").outputs
        steps = [{"name": s.name, "title": s.title, "status": s.status, "attempts": s.attempts,
                  "seconds": round(s.duration_ms / 1000, 2) if s.duration_ms is not None else None}
                 for s in state.steps if s.name != "report"]
        notes = [note] if (note := state.step("understand").outputs.get("note")) else []
        if choose.get("model"):
            notes.append("Add a secret named HF_TOKEN (a token allowed to call Inference Providers) in the Space "
                         "settings: the app reads it from the environment.")
        if create.get("dry_run"):
            notes.append(f"Dry run: the files are in {create.get('build_dir')}.")
        return {"run_id": state.id, "status": state.status, "idea": state.inputs.get("idea"),
                "url": build.get("url") or create.get("url"), "space_id": create.get("space_id"),
                "stage": build.get("stage"), "private": create.get("private"), "dry_run": bool(create.get("dry_run")),
                "sdk": choose.get("sdk"), "model": choose.get("model"), "provider": choose.get("provider"),
                "repairs": build.get("repairs", 0), "preview_repairs": state.step("preview").outputs.get("repairs", 0),
                "steps": steps,
                "total_seconds": round(sum(s["seconds"] or 0 for s in steps), 2),
                "cost_usd": round(usage["cost_usd"], 6), "requests": usage["requests"],
                "tokens_in": usage["tokens_in"], "tokens_out": usage["tokens_out"], "notes": notes}

    def _undo(self, state: RunState) -> str:
        create = state.step("create")
        space_id = create.outputs.get("space_id")
        if not space_id:
            return "Nothing to delete: this run created no Space."
        if self.spaces is None:
            raise HubActionError(HubErrorKind.AUTH, "A Hugging Face token is needed to delete the Space "
                                 f"'{space_id}'.", "Enter one in the sidebar, then roll back again.")
        try:
            self.spaces.delete(space_id, confirm=space_id)
        except HubActionError as err:
            if err.kind != HubErrorKind.NOT_FOUND:
                raise
            return f"{space_id} was already gone."
        return f"Deleted {space_id}."


# ----------------------------------------------------------------------------- validation

CHECKS = ("required files", "no module shadowed", "Python compiles", "front matter", "requirements", "no secrets", "token from env")

_SECRET_PATTERNS = (
    (re.compile(r"hf_[A-Za-z0-9]{20,}"), "a Hugging Face token"),
    (re.compile(r"sk-[A-Za-z0-9_\-]{20,}"), "an API key (sk-…)"),
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"), "a GitHub token"),
    (re.compile(r"AKIA[0-9A-Z]{16}"), "an AWS access key"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"(?i)\b(?:api[_-]?key|access[_-]?token|auth[_-]?token|token|secret|password|passwd)\b[\"']?"
                r"\s*[:=]\s*[\"'][A-Za-z0-9_\-./+=]{16,}[\"']"), "a key-looking value assigned in the code"),
)
_FRONT_MATTER = re.compile(r"---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", re.DOTALL)
_ENV_READ = re.compile(r"os\.(?:environ\s*(?:\[|\.get\()|getenv\()\s*[\"'][A-Z0-9_]*(?:TOKEN|KEY)[A-Z0-9_]*[\"']")
_CLIENTS = ("InferenceClient", "AsyncInferenceClient", "OpenAI", "AsyncOpenAI")
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?")


def validate_files(files: Mapping[str, str], sdk: str) -> list[str]:
    """Problems in plain words (empty when the files are fit to push) for a `sdk` Space."""
    problems = [f"{path} is missing" for path in REQUIRED_FILES.get(sdk, ()) if path not in files]
    problems += shadowing_problems(files)
    for path, text in files.items():
        if path.endswith(".py"):
            problems += _python_problems(path, text, sdk)
        problems += [f"{path} line {n}: {what} (read it from the environment instead)"
                     for n, what in _secret_hits(text)]
    if "README.md" in files:
        problems += _front_matter_problems(files["README.md"], sdk, files)
    if "requirements.txt" in files:
        problems += _requirements_problems(files["requirements.txt"], sdk)
    if sdk == "docker-streamlit" and "Dockerfile" in files:
        docker = files["Dockerfile"]
        port = str(_front_matter(files.get("README.md", "")).get("app_port", STREAMLIT_PORT))
        if port not in docker or "0.0.0.0" not in docker:
            problems.append(f"Dockerfile must run the app on 0.0.0.0 port {port} (the README's app_port)")
    return problems


_AST_LOCK = threading.Lock()
"""One AST conversion at a time: CPython 3.11 keeps the converter's depth counter per interpreter, so two
threads converting at once fail with "AST constructor recursion depth mismatch" (SystemError), seen in a
page's first run beside another. Builds run in threads; Streamlit's magic, which also parses, is off."""


def _python_problems(path: str, text: str, sdk: str) -> list[str]:
    try:
        with _AST_LOCK:
            tree = ast.parse(text, filename=path)
            compile(tree, path, "exec")
    except SyntaxError as err:
        return [f"{path} line {err.lineno}: {err.msg}"]
    except ValueError as err:
        return [f"{path}: {err}"]
    problems = []
    reads_env = bool(_ENV_READ.search(text))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node.func) in _CLIENTS:
            keys = {k.arg: k.value for k in node.keywords if k.arg in ("api_key", "token")}
            if not keys:
                problems.append(f"{path} line {node.lineno}: {_call_name(node.func)}() must get "
                                "api_key=os.environ[\"HF_TOKEN\"] explicitly")
            elif any(isinstance(v, ast.Constant) for v in keys.values()) or not reads_env:
                problems.append(f"{path} line {node.lineno}: the token passed to {_call_name(node.func)}() must "
                                "come from the environment (os.environ / os.getenv)")
        if (sdk == "docker-streamlit" and isinstance(node, ast.Attribute) and node.attr == "secrets"
                and isinstance(node.value, ast.Name) and node.value.id == "st"):
            problems.append(f"{path} line {node.lineno}: st.secrets has no secrets.toml on a Docker Space; "
                            "use os.environ")
    return problems


def _call_name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _secret_hits(text: str) -> list[tuple[int, str]]:
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, what in _SECRET_PATTERNS:
            if pattern.search(line):
                hits.append((number, f"looks like {what}"))
                break
    return hits


def _front_matter(readme: str) -> dict[str, Any]:
    found = _FRONT_MATTER.match(readme)
    if not found:
        return {}
    try:
        data, _ = load_yaml(found.group(1), max_bytes=MAX_FRONT_MATTER_BYTES)
    except ConfigError:
        return {}
    return data if isinstance(data, dict) else {}


def _front_matter_problems(readme: str, sdk: str, files: Mapping[str, str]) -> list[str]:
    found = _FRONT_MATTER.match(readme)
    if not found:
        return ["README.md must start with YAML front matter between two --- lines"]
    try:
        meta, _ = load_yaml(found.group(1), max_bytes=MAX_FRONT_MATTER_BYTES)
    except ConfigError as err:
        return ["README.md front matter is not valid YAML" + (f" (line {err.line + 1})" if err.line else "")
                + ("" if err.detail.startswith("invalid YAML") else f": {err.detail}")]
    if not isinstance(meta, dict):
        return ["README.md front matter must be a mapping of keys"]
    problems = []
    want = HUB_SDK.get(sdk)
    if meta.get("sdk") != want:
        problems.append(f"README.md front matter needs sdk: {want} (found {meta.get('sdk')!r})")
    if want == "docker":
        port = meta.get("app_port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            problems.append("README.md front matter needs app_port (8501 for Streamlit) on a Docker Space")
    if want == "gradio":
        app_file = meta.get("app_file")
        if not isinstance(app_file, str) or app_file not in files:
            problems.append("README.md front matter needs app_file naming the app's Python file (e.g. app.py)")
        if not isinstance(meta.get("sdk_version"), str) or not _VERSION.fullmatch(meta["sdk_version"]):
            problems.append(f'README.md front matter needs sdk_version pinning Gradio as a quoted version '
                            f'(e.g. sdk_version: "{GRADIO_SDK_VERSION}"), so the Space builds the same later')
    if want == "static":
        app_file = meta.get("app_file", "index.html")
        if app_file not in files:
            problems.append(f"README.md front matter's app_file '{app_file}' is not among the files")
    for key in ("colorFrom", "colorTo"):
        if key in meta and meta[key] not in SPACE_COLORS:
            problems.append(f"README.md front matter {key} must be one of {', '.join(SPACE_COLORS)}")
    # The Hub counts JavaScript string length (UTF-16 units): "length must be less than or equal to 60".
    if len(str(meta.get("short_description") or "").encode("utf-16-le")) // 2 > 60:
        problems.append("README.md front matter short_description is longer than 60 characters")
    import unicodedata  # here, to keep this check in one place

    # Spaces config reference: "emoji-only character allowed". Emoji are symbols (So), with their joiners,
    # variation selectors, skin-tone modifiers, keycaps and tag characters (Cf, Mn, Sk, Me).
    emoji = meta.get("emoji")
    if isinstance(emoji, str):
        emoji = re.sub(r"[0-9#*]\ufe0f?\u20e3", "\u20e3", emoji)   # keycaps (1️⃣) start with an ASCII character
    if "emoji" in meta and (not isinstance(emoji, str) or not emoji.strip() or any(
            unicodedata.category(c) not in ("So", "Sk", "Mn", "Me", "Cf") for c in emoji)):
        problems.append("README.md front matter emoji must be emoji only (e.g. 🚀), no letters or other text")
    if "title" in meta and not isinstance(meta["title"], str | int | float):
        problems.append("README.md front matter title must be text")
    return problems


def _requirements_problems(text: str, sdk: str) -> list[str]:
    problems, names = [], set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-"):
            problems.append(f"requirements.txt line {number}: pip options like '{line.split()[0]}' are not "
                            "allowed (another index or file could pull in anything)")
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as err:
            problems.append(f"requirements.txt line {number}: not a valid requirement ({str(err)[:120]})")
            continue
        if requirement.url:
            problems.append(f"requirements.txt line {number}: install '{requirement.name}' from PyPI, not a URL")
        names.add(canonicalize_name(requirement.name))
    if sdk == "docker-streamlit" and "streamlit" not in names:
        problems.append("requirements.txt must list streamlit (the Docker image installs only what it lists)")
    return problems


# ----------------------------------------------------------------------------- pure helpers


def _checked_files(ctx: StepContext) -> dict[str, str]:
    """The files as validated, or as the preview repaired them (a skipped preview changes nothing)."""
    return dict(ctx.outputs.get("preview", {}).get("files") or ctx.outputs["validate"]["files"])


def _disk_use(folder: Path) -> tuple[int, int]:
    """(files, bytes) under `folder`; (0, 0) when it does not exist."""
    count = size = 0
    for path in folder.rglob("*") if folder.is_dir() else ():
        if path.is_file() and not path.is_symlink():
            count, size = count + 1, size + path.stat().st_size
    return count, size


def _files_with(text: str, required: tuple[str, ...]) -> dict[str, str]:
    files = parse_files(text)
    missing = [path for path in required if path not in files]
    if missing:
        raise FileFormatError(f"the answer has no block for {', '.join(missing)}")
    return files


def _json_object(text: str) -> dict[str, Any]:
    """The first JSON object in a model's answer (code fences and prose around it are tolerated)."""
    start, end = (text or "").find("{"), (text or "").rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object found")
    try:
        value = json.loads(text[start:end + 1])
    except ValueError as err:
        raise ValueError(f"invalid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ValueError("the JSON is not an object")
    return value


def _text(value: Any, limit: int, default: str = "") -> str:
    flat = " ".join(str(value).split()) if isinstance(value, str | int | float) else ""
    return (flat or default)[:limit]


def _understanding(raw: dict[str, Any], idea: str) -> dict[str, Any]:
    """The model's plan, cleaned: bounded text, a plausible pipeline tag, a known SDK preference."""
    task = raw.get("task")
    task = task.strip().lower() if isinstance(task, str) and re.fullmatch(r"\s*[a-zA-Z0-9\-]{2,40}\s*", task) else None
    preference = raw.get("sdk_preference")
    aliases = {"streamlit": "docker-streamlit", "docker": "docker-streamlit"}
    preference = aliases.get(preference, preference) if isinstance(preference, str) else None
    return {"title": _text(raw.get("title"), 60, _title_from(idea)),
            "summary": _text(raw.get("summary"), 140, idea[:140]),
            "task": task, "inputs": _text(raw.get("inputs"), 200), "outputs": _text(raw.get("outputs"), 200),
            "audience": _text(raw.get("audience"), 200), "sdk_preference": preference if preference in SDKS else None,
            "note": _text(raw.get("note"), 400)}


def _plan(understanding: dict[str, Any], choice: dict[str, Any]) -> dict[str, Any]:
    return {"title": understanding["title"], "summary": understanding["summary"], "task": choice.get("task"),
            "inputs": understanding.get("inputs"), "outputs": understanding.get("outputs"),
            "audience": understanding.get("audience"), "sdk": choice["sdk"], "model": choice.get("model"),
            "provider": choice.get("provider")}


def _title_from(idea: str) -> str:
    words = [w for w in re.sub(r"[^\w\s-]", " ", idea).split() if w.lower() not in ("a", "an", "the", "i", "want")]
    return " ".join(w.capitalize() for w in words[:5]) or "New app"


def _space_name(title: str, run_id: str) -> str:
    """A valid, unique Space name: the title's words plus the start of the run id."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "app"
    return f"{slug}-{run_id[:6]}"


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
