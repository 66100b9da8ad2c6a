"""The API tokens page under Streamlit's AppTest: the operator creates a token, sees it once, finds it in the
list without its hash, and revokes it; a hosted visitor who is not the operator cannot create one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app.gateway.tokens import TokenService, token_hash
from core.store import Store

APP = str(Path(__file__).resolve().parents[1] / "Home.py")
OPERATOR = "operator-secret-for-the-tokens-page"


@pytest.fixture(autouse=True)
def fresh_services(monkeypatch, tmp_path):
    """Services are process-wide (st.cache_resource); each test starts them on its own database."""
    monkeypatch.chdir(tmp_path)                 # no agentic-config.* from the checkout
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def tokens_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/api_tokens.py").run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def name_field(at: AppTest):
    return next(t for t in at.text_input if t.label == "Name")


def listed(at: AppTest) -> list[dict]:
    return at.dataframe[0].value.to_dict("records") if at.dataframe else []


def create(at: AppTest, name: str) -> str:
    """Fill the form, submit it, and return the token the page shows."""
    name_field(at).set_value(name)
    at.multiselect[0].set_value(["chat", "spaces-read"])
    button(at, "Create token").click().run()
    assert not at.exception, at.exception
    shown = [c.value for c in at.code if c.value.startswith("sos_")]
    assert len(shown) == 1, [c.value for c in at.code]
    return shown[0]


def test_operator_creates_a_token_sees_it_once_and_revokes_it():
    store = Store(os.environ["SPACES_OS_DB"])
    at = tokens_page()
    assert name_field(at) and not listed(at)
    token = create(at, "ci runner")

    grant = TokenService(store).verify(token)
    assert grant is not None and grant.name == "ci runner" and grant.scopes == ("chat", "spaces-read")
    rows = listed(at)
    assert [(r["name"], r["state"], r["scopes"]) for r in rows] == [("ci runner", "live", "chat,spaces-read")]
    assert token not in str(rows) and token_hash(token) not in str(rows)
    assert not any("hash" in column for column in rows[0])

    at.run()                                    # any later run: the token is not shown again
    assert not [c for c in at.code if c.value.startswith("sos_")]
    assert listed(at)[0]["name"] == "ci runner"

    at.selectbox[0].set_value(grant.id)
    button(at, "Revoke token").click().run()
    assert not at.exception, at.exception
    assert listed(at)[0]["state"] == "revoked"
    assert TokenService(store).verify(token) is None


def test_an_empty_name_is_refused_with_a_clear_message():
    at = tokens_page()
    name_field(at).set_value("   ")
    button(at, "Create token").click().run()
    assert not at.exception
    assert "Give the token a name" in at.error[0].value and not listed(at)


def test_a_hosted_visitor_who_is_not_the_operator_cannot_create_tokens(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "owner/spaces-os")
    monkeypatch.setenv("SPACES_OS_OPERATOR_TOKEN", OPERATOR)
    at = tokens_page()
    assert "Only the operator can create tokens" in at.info[0].value
    assert not [b for b in at.button if b.label == "Create token"] and not at.dataframe
    assert Store(os.environ["SPACES_OS_DB"]).access_tokens() == []

    at.text_input(key="operator_token").set_value("a guess").run()       # a wrong token changes nothing
    assert not [b for b in at.button if b.label == "Create token"]

    at.text_input(key="operator_token").set_value(OPERATOR).run()        # the operator signs in
    token = create(at, "operator's laptop")
    assert TokenService(Store(os.environ["SPACES_OS_DB"])).verify(token) is not None
