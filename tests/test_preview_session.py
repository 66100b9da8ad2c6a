"""The preview runs the app, in an environment built from its own requirements (issue 14, item 17).

A Streamlit app that raises on line 1, or imports a package its requirements.txt does not list, previews
"failed" with the traceback's last lines in its log; listing the package makes it preview "ok". The
environment is a venv cached by the requirements' hash. Everything here is installed offline
(`pip --no-index`): the apps only need what this machine already has, and the guard is what makes a
package the app did not list missing."""

from __future__ import annotations

import pytest

from core.build.preview import Limits, launch_plan, preview_app
from core.build.preview_env import PreviewEnvError, PreviewEnvs
from core.demo.builds import render_template

PLAN = {"title": "Session test", "summary": "A test app.", "model": "org/model", "provider": "auto"}
LIMITS = Limits(timeout_s=60, memory_mb=1536)


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    return PreviewEnvs(tmp_path_factory.mktemp("preview-envs"), offline=True)


def streamlit_app(app: str, requirements: str = "streamlit>=1.40\nhuggingface_hub>=0.30\n") -> dict[str, str]:
    return {**render_template("streamlit-sentiment", PLAN), "app.py": app, "requirements.txt": requirements}


def test_a_streamlit_app_that_raises_on_line_1_previews_failed_with_its_traceback(envs):
    result = preview_app(streamlit_app('raise RuntimeError("broken on line 1")\n'), "docker-streamlit",
                         envs=envs, limits=LIMITS)
    assert result.status == "failed" and "when a session ran it" in result.reason, result.reason
    assert "RuntimeError: broken on line 1" in result.log_tail
    assert "line 1" in result.log_tail


def test_an_import_missing_from_requirements_fails_the_preview_until_it_is_listed(envs):
    app = "import plotly\nimport streamlit as st\n\nst.write(plotly.__name__)\n"
    missing = preview_app(streamlit_app(app), "docker-streamlit", envs=envs, limits=LIMITS)
    assert missing.status == "failed", missing.reason
    assert "No module named 'plotly'" in missing.log_tail     # installed for the console, not for this app
    listed = preview_app(streamlit_app(app, "streamlit>=1.40\nplotly\n"), "docker-streamlit", envs=envs,
                         limits=LIMITS)
    assert listed.ok, (listed.reason, listed.log_tail)
    assert "a session ran it without an error" in listed.reason


def test_the_generated_template_previews_ok_in_its_own_environment(envs):
    files = render_template("streamlit-chat", PLAN)
    result = preview_app(files, "docker-streamlit", envs=envs, limits=LIMITS)
    assert result.ok, (result.reason, result.log_tail)
    env = envs.ensure(files["requirements.txt"])
    assert env.reused and result.command[0] == str(env.python)          # the app's venv, not the console's python


def test_environments_are_cached_by_the_requirements_hash(envs):
    first = envs.ensure("streamlit>=1.40\n# a comment\n\n")
    again = envs.ensure("streamlit>=1.40\n")
    other = envs.ensure("streamlit>=1.40\npyyaml\n")
    assert again.reused and again.folder == first.folder
    assert other.folder != first.folder and other.key == envs.key("streamlit>=1.40\npyyaml")
    assert first.folder.parent == envs.root and (first.folder / "pyvenv.cfg").exists()


def test_a_requirement_that_cannot_be_installed_fails_the_preview_with_pips_words(envs):
    result = preview_app(streamlit_app("import streamlit\n", "streamlit>=1.40\nno-such-package-spaces-os\n"),
                         "docker-streamlit", envs=envs, limits=LIMITS)
    assert result.status == "failed" and "could not be installed" in result.reason
    assert "no-such-package-spaces-os" in result.log_tail
    with pytest.raises(PreviewEnvError):
        envs.ensure("no-such-package-spaces-os\n")


def test_a_gradio_preview_fetches_the_apps_config():
    assert launch_plan("gradio").health_path == "/config"
