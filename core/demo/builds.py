"""The demo provider's answers to the build agent: tested templates from `data/templates/`, filled in.

With no LLM key the demo provider answers every prompt tagged `[spaces-os build-agent: <step>]`
from here, so "a sentiment analysis demo" still becomes a real, valid app:

* `understand`: the idea's keywords pick a template; its task and SDK become the plan (JSON). When none
  fits (say "an image classifier": every model template here takes text), the plan says so in its `note`
  and asks for a starter app with no model, never the nearest-sounding template.
* `generate` / `fix`: the template for the plan's SDK and task, filled with the plan's values.
* `repair`: reads "No module named 'x'" in the build log and adds the package to requirements.txt.

    build_agent_answer([{"role": "user", "content": prompt}])   # None when the prompt is not the agent's
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from core.build.agent import GRADIO_SDK_VERSION, extract_json, marked_step
from core.build.file_format import FileFormatError, parse_files, render_files

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "data" / "templates"
# Import names whose pip package is called something else.
PIP_NAMES = {"sklearn": "scikit-learn", "PIL": "pillow", "cv2": "opencv-python-headless", "yaml": "pyyaml",
             "bs4": "beautifulsoup4", "dotenv": "python-dotenv", "huggingface_hub": "huggingface_hub"}
# Inputs no template with a `modality: text` can take, by the words (word starts) that name them.
OTHER_MODALITIES = {
    "images": ("image", "photo", "picture", "pixel", "vision", "ocr", "camera", "webcam", "selfie", "x-ray"),
    "audio": ("audio", "speech", "voice", "sound", "music", "podcast", "song"),
    "video": ("video", "movie", "footage"),
}
STARTERS = {"gradio": "gradio-starter", "docker-streamlit": "streamlit-starter", "static": "static-page"}


@dataclass(frozen=True)
class TemplateChoice:
    """The template for an idea; `fits` is False when none does (then `name` is a starter and `why` says so)."""

    name: str
    fits: bool
    why: str


@lru_cache(maxsize=1)
def templates() -> dict[str, dict[str, Any]]:
    """The template manifest: name → {sdk, task, emoji, keywords}."""
    return yaml.safe_load((TEMPLATES_DIR / "manifest.yaml").read_text(encoding="utf-8"))


def template_files(name: str) -> dict[str, str]:
    """The raw files of a template, with their placeholders."""
    folder = TEMPLATES_DIR / name
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*")) if p.is_file()}


def render_template(name: str, plan: dict[str, Any]) -> dict[str, str]:
    """A template's files filled with the plan's title, summary, model and provider."""
    info = templates()[name]
    title = " ".join(str(plan.get("title") or "New app").split())[:60]
    summary = " ".join(str(plan.get("summary") or title).split())[:140]
    model = str(plan.get("model") or "")
    provider = str(plan.get("provider") or "auto")
    values = {
        "{{TITLE_PY}}": repr(title), "{{MODEL_PY}}": repr(model), "{{PROVIDER_PY}}": repr(provider),
        "{{SUMMARY_PY}}": repr(summary), "{{TITLE_YAML}}": json.dumps(title, ensure_ascii=False),
        "{{SUMMARY_YAML}}": json.dumps(_shortened(summary, 60), ensure_ascii=False),
        "{{TITLE_HTML}}": html.escape(title), "{{SUMMARY_HTML}}": html.escape(summary),
        "{{TITLE}}": _markdown(title), "{{SUMMARY}}": _markdown(summary), "{{MODEL}}": model,
        "{{EMOJI}}": info.get("emoji") or "🚀", "{{GRADIO_SDK_VERSION}}": GRADIO_SDK_VERSION,
    }
    pattern = re.compile("|".join(re.escape(k) for k in sorted(values, key=len, reverse=True)))
    return {path: pattern.sub(lambda m: values[m.group(0)], text) for path, text in template_files(name).items()}


def choose_template(idea: str, sdk: str | None = None, task: str | None = None) -> str:
    """The template for an SDK and task (its starter when no template does that task), or for an idea."""
    if sdk is None:
        return choose_for_idea(idea).name
    catalogue = templates()
    same_sdk = [n for n, t in catalogue.items() if t["sdk"] == sdk]
    exact = [n for n in same_sdk if catalogue[n].get("task") == task]
    if exact:
        return exact[0]
    return STARTERS.get(sdk) or same_sdk[0]


def choose_for_idea(idea: str) -> TemplateChoice:
    """The template whose keywords the idea names most, among those that can take its kind of input; a
    starter (and the reason) when none does.

        choose_for_idea("an image classifier")   # TemplateChoice("streamlit-starter", fits=False, why="…images…")
    """
    catalogue = templates()
    words = idea.lower()
    wants_gradio = "gradio" in words
    other = [kind for kind, names in OTHER_MODALITIES.items()
             if re.search(r"\b(?:" + "|".join(map(re.escape, names)) + ")", words)]
    scores = {name: [k for k in info.get("keywords") or [] if k in words] for name, info in catalogue.items()
              if ((info["sdk"] == "gradio") == wants_gradio or info["sdk"] == "static")
              and not (info.get("modality") and other)}
    best = max(scores, key=lambda n: len(scores[n]), default=None)
    if best is not None and scores[best]:
        return TemplateChoice(best, True, f"the idea names {', '.join(scores[best])}")
    why = (f"it is about {' and '.join(other)}, and every model template here takes text" if other
           else "none of its words names what a template does")
    return TemplateChoice("gradio-starter" if wants_gradio else "streamlit-starter", False,
                          f"No tested template fits this idea ({why}), so the demo model writes a starter app "
                          "that runs and shows the plan, with no model. With an LLM key on Providers, a model "
                          "writes the app itself.")


def build_agent_answer(messages: list[dict[str, Any]]) -> str | None:
    """The demo's answer to a build-agent prompt, or None when the last user message is not one."""
    prompt = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)
    step = marked_step(prompt if isinstance(prompt, str) else None)
    if step is None:
        return None
    # A re-ask carries only the marker and the error: the data is in the first prompt of the conversation.
    first = next((m["content"] for m in messages if m.get("role") == "user" and isinstance(m.get("content"), str)
                  and marked_step(m["content"])), prompt)
    if step == "understand":
        return _understand(first)
    if step in ("generate", "fix"):
        plan = extract_json(first, "PLAN")
        if not isinstance(plan, dict) or plan.get("sdk") is None:
            return None
        name = choose_template("", plan.get("sdk"), plan.get("task"))
        return render_files(render_template(name, plan))
    if step == "repair":
        return _repair(first)
    return None


def _understand(prompt: str) -> str | None:
    data = extract_json(prompt, "IDEA")
    if not isinstance(data, dict) or not isinstance(data.get("idea"), str):
        return None
    idea = data["idea"]
    choice = choose_for_idea(idea)
    info = templates()[choice.name]
    task = info.get("task")
    io = {"text-classification": ("a piece of text", "its sentiment, with a confidence score"),
          "text-generation": ("chat messages", "the model's replies")}.get(task, ("nothing", "a web page"))
    if not choice.fits:
        io = ("nothing yet", "a starter page showing the plan")
    audience = re.search(r"\bfor ([a-z][\w\s-]{2,40}?)(?:[.,;!?]|$)", idea, re.IGNORECASE)
    # Streamlit is the agent's default SDK, but a model-less plan would otherwise become a static page.
    preference = info["sdk"] if info["sdk"] != "docker-streamlit" or not choice.fits else None
    return json.dumps({
        "title": _title(idea), "summary": _sentence(idea), "task": task, "inputs": io[0], "outputs": io[1],
        "audience": audience.group(1).strip() if audience else "anyone trying the demo",
        "sdk_preference": preference, "note": None if choice.fits else choice.why,
    }, ensure_ascii=False)


def _repair(prompt: str) -> str | None:
    try:
        files = parse_files(prompt.split("CURRENT FILES:", 1)[-1])
    except FileFormatError:
        return None
    build = extract_json(prompt, "BUILD") or {}
    log = "\n".join(build.get("log_tail") or []) + "\n" + str(build.get("error") or "")
    requirements = files.get("requirements.txt", "")
    listed = {re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
              for line in requirements.splitlines() if line.strip() and not line.startswith("#")}
    missing = []
    for module in re.findall(r"No module named '([A-Za-z0-9_]+)", log):
        package = PIP_NAMES.get(module, module)
        if package.lower().replace("_", "-") not in listed and package not in missing:
            missing.append(package)
    if not missing or "requirements.txt" not in files:     # nothing the demo knows how to fix: no change
        return render_files(dict([next(iter(files.items()))]))
    fixed = requirements + ("" if requirements.endswith("\n") or not requirements else "\n")
    return render_files({"requirements.txt": fixed + "".join(f"{p}\n" for p in missing)})


def _title(idea: str) -> str:
    """The idea's first clause in title case: "a sentiment analysis demo for my shop" → "Sentiment Analysis Demo"."""
    stop = {"a", "an", "the", "i", "want", "build", "make", "me", "please", "create", "simple", "small", "app",
            "using", "my", "our"}
    head = re.split(r"\b(?:for|that|which|with|to|so|where)\b", idea, maxsplit=1, flags=re.IGNORECASE)[0]
    words = [w for w in re.sub(r"[^\w\s-]", " ", head).split() if w.lower() not in stop]
    return " ".join(w[:1].upper() + w[1:] for w in words[:4])[:40] or "Demo App"


def _sentence(idea: str) -> str:
    text = " ".join(idea.split())[:100].rstrip(".")
    return (text[:1].upper() + text[1:] + ".") if text else "A small demo app."


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _markdown(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", text)
