"""Hosted safety, item 2 (the Hub half) and item 3 (remote MCP tools).

Hub calls made for visitors go through the client the composition root installs: it keeps no cookies and
follows no redirect to another origin; a visitor without a token of their own is never sent the machine's
`HF_TOKEN`. A remote MCP tool's error text is redacted before it is cut.

Real servers on 127.0.0.1: the fake Hub, a second fake Hub standing for "another origin" (it records whatever
reaches it), and a small MCP server that wants a bearer token.
"""

from __future__ import annotations

import base64

import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from core.app.services import Services, build_services
from core.app.views.spaces import choose_hub_token, session_clients
from core.hub.client import HubClient
from core.hub.errors import HubActionError, HubErrorKind
from core.hub.spaces import SpaceManager
from core.tools.mcp_client import McpConnection, McpServerConfig, McpToolError
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeHub, FakeSpace
from tests.test_mcp import ThreadedServer, require_bearer

VISITOR = "hf_visitorOwnToken00000000000"     # a visitor's own token (alice's, on the fake Hub)
MACHINE = SENTINEL_HF                           # the machine's HF_TOKEN: a visitor's lookups never carry it


@pytest.fixture(scope="module")
def elsewhere_server():
    with FakeHub() as hub:
        yield hub


@pytest.fixture
def elsewhere(elsewhere_server: FakeHub) -> FakeHub:
    """Another origin (another port on 127.0.0.1) that accepts any of the tokens and records every request."""
    elsewhere_server.reset()
    for token in (VISITOR, MACHINE):
        elsewhere_server.add_token(token, user="alice")
    return elsewhere_server


@pytest.fixture
def svc(fake_hub: FakeHub, tmp_path, monkeypatch):
    """A hosted console's services from the composition root, on a machine whose HF_TOKEN is set."""
    monkeypatch.setenv("HF_TOKEN", MACHINE)
    fake_hub.add_token(VISITOR, user="alice")
    services = build_services(env={"SPACE_ID": "owner/console", "HF_TOKEN": MACHINE, "HF_ENDPOINT": fake_hub.url,
                                   "SPACES_OS_DB": str(tmp_path / "db.sqlite")}, cwd=tmp_path)
    assert services.hosted
    yield services
    if services.manager is not None:
        services.manager.shutdown(5.0)


def visitor_clients(svc: Services, fake_hub: FakeHub, *, own_token: str | None = None,
                    who: str = "visitor") -> tuple[HubClient, SpaceManager]:
    """A visitor's clients as the Spaces page and Chat build them: fresh session state, their own keys."""
    keys = {"huggingface": own_token} if own_token else {}
    token = choose_hub_token(svc.config.providers, keys, hosted=svc.hosted)
    return session_clients({}, endpoint=svc.hub_endpoint, token=token, router_url=fake_hub.router_url,
                           store=svc.store, session=who, max_upload_bytes=svc.policy.max_upload_bytes)


# --------------------------------------------------------------------------- redirects


CROSS_ORIGIN_CALLS = {
    "keyword search": ("GET", "/api/spaces", lambda hub, spaces: hub.search_spaces("hello")),
    "Space details": ("GET", "/api/spaces/gradio/hello-world", lambda hub, spaces: hub.space_details("gradio/hello-world")),
    "set a secret": ("POST", "/api/spaces/alice/app/secrets",
                     lambda hub, spaces: spaces.set_secret("alice/app", "API_KEY", "the-secret-value-0001")),
}


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("call", list(CROSS_ORIGIN_CALLS))
def test_a_redirect_to_another_origin_is_refused_and_that_origin_receives_nothing(
        svc, fake_hub: FakeHub, elsewhere: FakeHub, call: str, status: int):
    fake_hub.add_space(FakeSpace("alice/app", private=True))
    method, path, run = CROSS_ORIGIN_CALLS[call]
    fake_hub.fail(path, status, method=method, headers={"Location": f"{elsewhere.url}{path}"})
    hub, spaces = visitor_clients(svc, fake_hub, own_token=VISITOR)

    with pytest.raises(HubActionError) as caught:
        run(hub, spaces)

    err = caught.value
    assert err.kind == HubErrorKind.UNAVAILABLE and err.status == status
    assert "another site" in err.message and elsewhere.url in err.message and "not followed" in err.message
    assert VISITOR not in str(err)
    assert elsewhere.requests == []                      # not the token, not the secret, not even the request
    assert fake_hub.last(method, path).authorization == f"Bearer {VISITOR}"


def test_a_same_origin_redirect_is_followed_with_the_token_and_without_the_cookie_its_answer_set(
        svc, fake_hub: FakeHub):
    fake_hub.add_space(FakeSpace("alice/app", private=True, title="Renamed"))     # private: needs the token
    fake_hub.fail("/api/spaces/alice/old-name", 307, times=1,
                  headers={"Location": "/api/spaces/alice/app", "Set-Cookie": "hub_session=one; Path=/"})
    hub, _ = visitor_clients(svc, fake_hub, own_token=VISITOR)

    details = hub.space_details("alice/old-name")

    assert details.id == "alice/app" and details.title == "Renamed"
    hops = fake_hub.requests_to("GET", None)[-2:]
    assert [r.path for r in hops] == ["/api/spaces/alice/old-name", "/api/spaces/alice/app"]
    assert [r.authorization for r in hops] == [f"Bearer {VISITOR}"] * 2
    assert [r.headers.get("cookie") for r in hops] == [None, None]


def test_a_caller_that_reads_redirects_itself_still_gets_the_3xx(svc, fake_hub: FakeHub, elsewhere: FakeHub):
    from huggingface_hub.utils import get_session

    fake_hub.fail("/api/spaces", 302, headers={"Location": f"{elsewhere.url}/api/spaces"})
    response = get_session().get(f"{fake_hub.url}/api/spaces", follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == f"{elsewhere.url}/api/spaces"
    assert elsewhere.requests == []


# --------------------------------------------------------------------------- cookies


def test_a_cookie_one_visitors_answer_set_is_not_sent_on_another_visitors_request(svc, fake_hub: FakeHub):
    fake_hub.fail("/api/spaces", 200, body=[], times=1, headers={"Set-Cookie": "hub_session=visitor-a; Path=/"})
    first, _ = visitor_clients(svc, fake_hub, own_token=VISITOR, who="visitor-a")
    first.search_spaces("hello")
    second, second_spaces = visitor_clients(svc, fake_hub, who="visitor-b")

    second.search_spaces("hello")
    second.space_details("gradio/hello-world")
    second_spaces.runtime("gradio/hello-world")

    sent = fake_hub.requests
    assert sent[0].path == "/api/spaces" and len(sent) == 4
    assert [r.headers.get("cookie") for r in sent] == [None] * 4


# --------------------------------------------------------------------------- the machine's HF_TOKEN


def test_a_hosted_visitor_without_a_token_sends_no_authorization_even_with_the_machines_HF_TOKEN_set(
        svc, fake_hub: FakeHub):
    hub, spaces = visitor_clients(svc, fake_hub)
    assert not hub.has_token

    hub.search_spaces("hello")
    hub.search_spaces("generate images", semantic=True)
    hub.search_models("llama")
    hub.search_datasets("")
    hub.search_papers("attention")
    hub.search_docs("secrets")
    hub.space_details("gradio/hello-world")
    hub.model_details("meta-llama/Llama-3.1-8B-Instruct")
    hub.dataset_details("openai/gsm8k")
    spaces.runtime("gradio/hello-world")

    sent = fake_hub.requests
    assert len(sent) >= 10
    assert [(r.method, r.path) for r in sent if r.authorization is not None] == []
    assert not [r for r in sent if MACHINE in str(r.headers) or MACHINE in r.body.decode(errors="replace")]


# --------------------------------------------------------------------------- remote MCP tool errors


MCP_TOKEN = "mcp-SENTINEL-key-0123456789abcdef"
SDK_PREFIX = "Error executing tool fail: "       # what the MCP SDK puts before a ToolError's text


@pytest.fixture(scope="module")
def failing_mcp():
    server = MCPServer("failing")

    @server.tool()
    def fail(text: str) -> str:
        """Always fails with the given text."""
        raise ToolError(text)

    app = require_bearer(server.streamable_http_app(), MCP_TOKEN)
    with ThreadedServer(app) as running:
        yield running


def test_a_remote_tools_error_is_redacted_before_it_is_cut(failing_mcp):
    encoded = base64.b64encode(f"user:{MCP_TOKEN}".encode()).decode()
    head = f"upstream refused {MCP_TOKEN} (basic {encoded}); "
    said = SDK_PREFIX + head
    text = head + "." * (490 - len(said)) + MCP_TOKEN + " and more"     # the last copy sits across the cut
    connection = McpConnection(McpServerConfig("failing", failing_mcp.url, MCP_TOKEN, timeout=10))

    with pytest.raises(McpToolError) as caught:
        connection.call_tool("fail", {"text": text})

    message = str(caught.value)
    assert message.startswith(f"failing.fail reported an error: {SDK_PREFIX}upstream refused ")
    assert MCP_TOKEN not in message and encoded not in message and MCP_TOKEN[:10] not in message
    assert len(message) <= len("failing.fail reported an error: ") + 500
