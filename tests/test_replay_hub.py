"""The Hub as recorded: public traffic of the real Hub replayed to the real HubClient / SpaceManager, and the
Hub behaviours our own fake hid (issue 14, items 11–16).

Fixtures live in tests/replay/hub, byte-for-byte as published; tests/replay/hub/SOURCES.json names each
one's repository, path and commit. Everything runs on 127.0.0.1: a replay server serving the vcrpy cassettes
of huggingface_hub in recorded order, the fake Hub (over https where huggingface_hub's behaviour depends on
it), a Hub that never answers, and log streams that never end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
import yaml
from huggingface_hub.utils import set_client_factory

from core.build.agent import validate_files
from core.hub import transport
from core.hub.client import PAPER_SEARCH_CAP, HubClient
from core.hub.errors import HubActionError, HubErrorKind
from core.hub.spaces import INTERMEDIATE_STAGES, SpaceManager
from tests.conftest import SENTINEL_HF
from tests.fake_hub import SHORT_DESCRIPTION_TOO_LONG, FakeHub, FakeSpace

REPLAY = Path(__file__).parent / "replay" / "hub"
TOKEN = SENTINEL_HF
CASSETTES = REPLAY / "huggingface_hub"


def recorded(name: str) -> Any:
    path = REPLAY / name
    return json.loads(path.read_bytes()) if path.suffix == ".json" else path.read_text(encoding="utf-8")


def cassette(test: str) -> list[dict]:
    return yaml.safe_load((CASSETTES / f"TestSpaceAPIProduction.{test}.yaml").read_text())["interactions"]


# --------------------------------------------------------------------------- servers on 127.0.0.1


class _Server:
    """A ThreadingHTTPServer on a random port; subclasses answer in `handle(handler, method)`."""

    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.handle(self, "GET")

            def do_POST(self) -> None:
                outer.handle(self, "POST")

            def do_DELETE(self) -> None:
                outer.handle(self, "DELETE")

        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class ReplayHub(_Server):
    """Serves a cassette's recorded answers: each request gets the next unused interaction with its method
    and path (the recorded host is dropped). Anything unrecorded is a 599 and is listed in `unmatched`."""

    def __init__(self, interactions: list[dict]) -> None:
        self.pending = list(interactions)
        self.served: list[tuple[str, str]] = []
        self.unmatched: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        super().__init__()

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        path = urlsplit(h.path).path
        with self.lock:
            found = next((i for i in self.pending if i["request"]["method"] == method
                          and urlsplit(i["request"]["uri"]).path == path), None)
            if found is None:
                self.unmatched.append((method, path))
            else:
                self.pending.remove(found)
                self.served.append((method, path))
        if found is None:
            h.send_response(599)
            h.end_headers()
            return
        response = found["response"]
        body = response["body"]["string"].encode()
        h.send_response(response["status"]["code"])
        for name in ("Content-Type", "X-Error-Code", "X-Error-Message"):
            for value in response["headers"].get(name, []):
                h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


class BodyHub(_Server):
    """Answers every GET with one recorded JSON body (a documented endpoint's answer)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.paths: list[str] = []
        super().__init__()

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        self.paths.append(urlsplit(h.path).path)
        h.send_response(200)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(self.body)))
        h.end_headers()
        h.wfile.write(self.body)


class StalledHub(_Server):
    """Reads each request and never answers it; lets go (closing without an answer) after `hold` seconds, so
    a client without a timeout fails slowly instead of hanging the suite."""

    def __init__(self, hold: float = 5.0) -> None:
        self.hold = hold
        super().__init__()

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        self.release.wait(self.hold)
        h.close_connection = True


class EndlessLogs(_Server):
    """A Space log stream that stays open for `hold` seconds: silent, or sending only keep-alives."""

    def __init__(self, *, keep_alive: bool, hold: float = 20.0) -> None:
        self.keep_alive = keep_alive
        self.hold = hold
        self.open_streams = 0
        super().__init__()

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        h.wfile.write(b'data: {"data": "one buffered line\\n", "timestamp": "2020-01-01T00:00:00.000Z"}\n\n')
        h.wfile.flush()
        self.open_streams += 1
        try:
            ends = time.monotonic() + self.hold
            while time.monotonic() < ends and not self.release.is_set():
                if self.keep_alive:
                    h.wfile.write(b"data: \n\n")
                    h.wfile.flush()
                self.release.wait(0.05)
        except OSError:
            pass   # the client went away
        finally:
            self.open_streams -= 1


@pytest.fixture
def served():
    """Start servers for one test and stop them all at its end."""
    started: list[_Server] = []

    def start(server: _Server) -> Any:
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --------------------------------------------------------------------------- replayed recordings


def test_recorded_static_space_runtime_has_no_hardware_and_no_sleep_time_and_delete_answers_ok(served):
    hub = served(ReplayHub(cassette("test_static_space_runtime")))
    spaces = SpaceManager(HubClient(hub.url, TOKEN))
    created = spaces.create_space("user/tmp_test_space", sdk="gradio", template=False)
    commit = spaces.push_files(created.id, {"app.py": "import gradio as gr\n"}, "Add app")
    state = spaces.runtime("victor/static-space")
    spaces.delete(created.id, confirm=created.id)            # recorded answer: text/plain "OK"
    assert commit.oid == "18404cdff7a1dbb7890b52aa94d6f6db6e7b580a"
    assert (state.stage, state.hardware, state.requested_hardware, state.sleep_time) == ("RUNNING", None, None, None)
    assert state.is_settled and not state.is_error and not state.is_asleep
    assert hub.unmatched == []
    assert [i["request"]["method"] for i in hub.pending] == ["GET"]   # only 2025's revision?expand=xetEnabled


def test_recorded_pause_and_restart_answers_are_read_as_states(served):
    hub = served(ReplayHub(cassette("test_pause_and_restart_space")))
    spaces = SpaceManager(HubClient(hub.url, TOKEN))
    spaces.create_space("user/tmp_test_space", sdk="gradio", template=False)
    spaces.push_files("user/tmp_test_space", {"app.py": "print('hi')\n"}, "first")
    spaces.push_files("user/tmp_test_space", {"app.py": "print('hi again')\n"}, "second")   # existing file: oid
    building = spaces.runtime("user/tmp_test_space")
    paused = spaces.pause("user/tmp_test_space")
    restarted = spaces.restart("user/tmp_test_space")
    again = spaces.runtime("user/tmp_test_space")
    spaces.delete("user/tmp_test_space", confirm="user/tmp_test_space")
    assert (building.stage, building.requested_hardware, building.sleep_time) == ("BUILDING", "cpu-basic", 172800)
    assert paused.stage == "PAUSED" and paused.is_asleep and paused.is_settled
    assert restarted.stage == again.stage == "BUILDING" and not restarted.is_settled
    assert hub.unmatched == [] and all(i["request"]["method"] == "GET" for i in hub.pending)


def test_recorded_variables_answers_become_variables(served):
    hub = served(ReplayHub(cassette("test_manage_variables")))
    spaces = SpaceManager(HubClient(hub.url, TOKEN))
    spaces.create_space("user/tmp_test_space", sdk="gradio", template=False)
    spaces.push_files("user/tmp_test_space", {"app.py": "x = 1\n"}, "app")
    assert spaces.list_variables("user/tmp_test_space") == []
    first = spaces.set_variable("user/tmp_test_space", "foo", "123")
    second = spaces.set_variable("user/tmp_test_space", "MODEL_REPO_ID", "user/repo")
    assert [(v.key, v.value) for v in first] == [("foo", "123")]
    assert [v.key for v in second] == ["foo", "MODEL_REPO_ID"] and second[1].updated_at.startswith("2025-03-07")
    assert hub.unmatched == []


def test_recorded_409_on_create_is_a_taken_name_and_secrets_answer_empty_objects(served):
    hub = served(ReplayHub(cassette("test_manage_secrets")))
    spaces = SpaceManager(HubClient(hub.url, TOKEN))
    with pytest.raises(HubActionError) as caught:
        spaces.create_space("user/tmp_test_space", sdk="gradio", template=False)
    assert caught.value.kind == HubErrorKind.NAME_TAKEN and caught.value.status == 409
    spaces.push_files("user/tmp_test_space", {"app.py": "x = 1\n"}, "app")
    spaces.set_secret("user/tmp_test_space", "foo", "123")
    spaces.delete_secret("user/tmp_test_space", "foo")
    assert hub.unmatched == []


def test_recorded_semantic_search_hits_become_rows(served):
    body = (REPLAY / "hf-mcp-server" / "space-result.json").read_bytes()
    hub = served(BodyHub(body))
    page = HubClient(hub.url, None).search_spaces("flux", semantic=True)
    first = recorded("hf-mcp-server/space-result.json")[0]
    assert hub.paths == ["/api/spaces/semantic-search"]
    assert page.items[0]["id"] == first["id"] == "ginipick/FLUXllama"
    assert page.items[0]["hardware"] == "zero-a10g" and page.items[0]["stage"] == "RUNNING"
    assert page.items[0]["description"] == first["ai_short_description"]
    assert page.items[0]["score"] == first["semanticRelevancyScore"]


def test_recorded_paper_search_answer_becomes_rows(served):
    body = (REPLAY / "hf-mcp-server" / "paper_result_kazakh.json").read_bytes()
    hub = served(BodyHub(body))
    page = HubClient(hub.url, None).search_papers("kazakh", limit=5)
    papers = recorded("hf-mcp-server/paper_result_kazakh.json")
    assert hub.paths == ["/api/papers/search"]
    assert [row["id"] for row in page.items] == [p["paper"]["id"] for p in papers[:5]] and page.has_next


# --------------------------------------------------------------------------- item 11: no token over https


def _self_signed_for_localhost(cert: Path, key: Path) -> None:
    """A certificate for IP 127.0.0.1: with the openssl command, else with the `cryptography` package."""
    if shutil.which("openssl"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True)
        return
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()))


@pytest.fixture
def https_hub(tmp_path: Path) -> Iterator[FakeHub]:
    """The fake Hub over https with a certificate for 127.0.0.1 that the Hub client trusts: huggingface_hub
    reads a 401 as "repo not found" only for `https://…/api/(models|datasets|spaces)/…` URLs."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    _self_signed_for_localhost(cert, key)
    before = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(cert)
    set_client_factory(transport.hub_http_client)    # a fresh shared client that reads SSL_CERT_FILE
    hub = FakeHub(tls=(str(cert), str(key))).start()
    hub.add_token(TOKEN, user="alice")
    hub.add_space(FakeSpace("alice/secret-app", sdk="docker", private=True))
    try:
        yield hub
    finally:
        hub.stop()
        if before is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = before
        set_client_factory(transport.hub_http_client)


def test_anonymous_401_over_https_tells_the_user_to_sign_in_not_that_the_space_is_missing(https_hub: FakeHub):
    assert https_hub.url.startswith("https://127.0.0.1:")
    for call in (lambda: HubClient(https_hub.url, None).space_details("alice/secret-app"),
                 lambda: SpaceManager(HubClient(https_hub.url, None)).runtime("alice/secret-app")):
        with pytest.raises(HubActionError) as caught:
            call()
        assert caught.value.kind == HubErrorKind.AUTH and caught.value.status == 401
        assert "sign in: this needs a token" in str(caught.value).lower()
        assert "not found" not in str(caught.value).lower()
    assert https_hub.last("GET", "/api/spaces/alice/secret-app").authorization is None


def test_with_a_token_a_private_space_of_someone_else_is_still_not_found(https_hub: FakeHub):
    with pytest.raises(HubActionError) as caught:
        HubClient(https_hub.url, TOKEN).space_details("bob/not-there")
    assert caught.value.kind == HubErrorKind.NOT_FOUND


# --------------------------------------------------------------------------- item 12: every call has a timeout


def _calls(spaces: SpaceManager) -> dict[str, Any]:
    hub = spaces.hub
    return {
        "whoami": hub.whoami,
        "semantic search": lambda: hub.search_spaces("chat", semantic=True),
        "keyword search": lambda: hub.search_spaces("chat"),
        "papers": lambda: hub.search_papers("attention"),
        "docs": lambda: hub.search_docs("spaces"),
        "space details": lambda: hub.space_details("alice/app"),
        "runtime": lambda: spaces.runtime("alice/app"),
        "create": lambda: spaces.create_space("alice/new-app", sdk="static"),
        "commit": lambda: spaces.push_files("alice/app", {"app.py": "print(1)\n"}, "update"),
        "restart": lambda: spaces.restart("alice/app"),
        "pause": lambda: spaces.pause("alice/app"),
        "hardware": lambda: spaces.request_hardware("alice/app", "t4-small"),
        "secret": lambda: spaces.set_secret("alice/app", "KEY", "value-0001"),
        "variables": lambda: spaces.list_variables("alice/app"),
        "duplicate": lambda: spaces.duplicate("gradio/hello-world", "alice/copy"),
        "delete": lambda: spaces.delete("alice/app", confirm="alice/app"),
        "wait": lambda: spaces.wait_for_stage("alice/app", timeout=1),
    }


@pytest.mark.parametrize("name", list(_calls(SpaceManager(HubClient("http://127.0.0.1:9", TOKEN)))))
def test_a_stalled_hub_makes_each_call_fail_with_the_timeout_kind(served, name: str):
    hub = served(StalledHub())
    spaces = SpaceManager(HubClient(hub.url, TOKEN, timeout=0.3))
    with pytest.raises(HubActionError) as caught:
        _calls(spaces)[name]()
    assert caught.value.kind == HubErrorKind.TIMEOUT, str(caught.value)
    assert "did not answer in time" in caught.value.message


# --------------------------------------------------------------------------- item 13: logs have an overall limit


@pytest.mark.parametrize("keep_alive", [True, False], ids=["endless keep-alives", "silent open stream"])
def test_logs_without_follow_return_while_the_stream_is_still_open(served, keep_alive: bool):
    logs = served(EndlessLogs(keep_alive=keep_alive))
    spaces = SpaceManager(HubClient(logs.url, TOKEN), logs_limit=0.5)
    lines = list(spaces.logs("alice/app", build=True))
    assert lines == ["one buffered line\n"]
    assert logs.open_streams == 1 or not keep_alive   # returned before the Hub ended the stream


# --------------------------------------------------------------------------- item 14: each 402 in its own words


@pytest.fixture
def free_hub(fake_hub: FakeHub) -> FakeHub:
    fake_hub.set_plan("alice", "free")
    fake_hub.add_space(FakeSpace("alice/app", sdk="gradio"))
    return fake_hub


def _payment(call) -> HubActionError:
    with pytest.raises(HubActionError) as caught:
        call()
    assert caught.value.kind == HubErrorKind.PAYMENT and caught.value.status == 402
    return caught.value


def test_a_402_on_paid_hardware_speaks_of_billing_not_of_creating_spaces(free_hub: FakeHub):
    err = _payment(lambda: SpaceManager(HubClient(free_hub.url, TOKEN)).request_hardware("alice/app", "t4-small"))
    assert "billed by the minute" in err.message and "credit card" in err.message
    assert "Gradio or Docker" not in str(err) and "Gradio and Docker" not in str(err)


def test_a_402_on_zerogpu_names_the_zerogpu_hosting_limits(free_hub: FakeHub):
    err = _payment(lambda: SpaceManager(HubClient(free_hub.url, TOKEN)).request_hardware("alice/app", "zero-a10g"))
    assert "ZeroGPU" in err.message and "up to 2" in err.message and "up to 10" in err.message
    assert "Gradio or Docker" not in str(err)


def test_a_402_on_a_push_speaks_of_private_storage(free_hub: FakeHub):
    free_hub.fail("/api/spaces/alice/app/commit/main", 402)
    err = _payment(lambda: SpaceManager(HubClient(free_hub.url, TOKEN)).push_files("alice/app", {"a.txt": "a"}, "m"))
    assert "private storage" in err.message and "Gradio" not in str(err)


def test_a_402_on_any_other_action_names_that_action_and_keeps_the_hubs_words(free_hub: FakeHub):
    free_hub.fail("/api/spaces/alice/app/restart", 402, body={"error": "Subscription required"})
    err = _payment(lambda: SpaceManager(HubClient(free_hub.url, TOKEN)).restart("alice/app"))
    assert "restart the Space" in err.message and "Subscription required" in err.message
    assert "Gradio" not in str(err)


def test_a_402_on_create_still_names_the_paid_plan_for_compute_spaces(free_hub: FakeHub):
    err = _payment(lambda: SpaceManager(HubClient(free_hub.url, TOKEN)).create_space("alice/new", sdk="gradio"))
    assert "paid plan" in err.message and "Static Spaces are free" in err.message


def test_the_402_words_say_what_the_hub_docs_say():
    overview, zerogpu = recorded("hub-docs/spaces-overview.md"), recorded("hub-docs/spaces-zerogpu.md")
    billing, storage = recorded("hub-docs/billing.md"), recorded("hub-docs/storage-limits.md")
    assert "Gradio and Docker Spaces run on compute and require a paid plan to create" in overview
    assert "can host up to 2 ZeroGPU Spaces for free" in zerogpu and "host up to 10 ZeroGPU Spaces" in zerogpu
    assert "The only payment method supported for Hugging Face compute services is credit cards." in billing
    assert re.search(r"\| Free user or org .*\| 100GB", storage) and "1TB + pay-as-you-go" in storage


# --------------------------------------------------------------------------- item 15: the Hub's metadata check


def test_a_validate_yaml_400_is_reported_in_the_hubs_words(fake_hub: FakeHub):
    fake_hub.add_space(FakeSpace("alice/app", sdk="gradio"))
    readme = "---\ntitle: App\nemoji: 🚀\nsdk: gradio\nshort_description: " + "x" * 61 + "\n---\n"
    with pytest.raises(HubActionError) as caught:
        SpaceManager(HubClient(fake_hub.url, TOKEN)).push_files("alice/app", {"README.md": readme}, "card")
    err = caught.value
    assert err.kind == HubErrorKind.BAD_REQUEST and err.status == 400
    assert SHORT_DESCRIPTION_TOO_LONG in err.message and "README.md front matter" in err.message
    assert "Nothing was sent" not in str(err)
    assert fake_hub.requests_to("POST", "/api/spaces/alice/app/commit/main") == []


STATIC_FILES = {"index.html": "<h1>hi</h1>"}


def _card(**keys: str) -> str:
    lines = "".join(f"{k}: {v}\n" for k, v in keys.items())
    return f"---\ntitle: App\nsdk: static\napp_file: index.html\n{lines}---\n"


@pytest.mark.parametrize("emoji", ["rocket", "':rocket:'", "🚀 app", "5"])
def test_our_validator_refuses_an_emoji_that_is_not_an_emoji(emoji: str):
    assert "emoji-only character allowed" in recorded("hub-docs/spaces-config-reference.md")
    problems = validate_files({**STATIC_FILES, "README.md": _card(emoji=emoji)}, "static")
    assert any("emoji" in p for p in problems), problems


@pytest.mark.parametrize("emoji", ["🚀", "🛰️", "🦀🏆🦀", "👍🏽", "🇫🇷", "1️⃣"])
def test_our_validator_accepts_real_emoji(emoji: str):
    assert not [p for p in validate_files({**STATIC_FILES, "README.md": _card(emoji=emoji)}, "static")
                if "emoji" in p]


def test_our_validator_counts_short_description_as_the_hub_does():
    """The Hub counts JavaScript length: an emoji is two units, so 59 letters and one emoji are 61."""
    too_long = validate_files({**STATIC_FILES, "README.md": _card(short_description="a" * 59 + "🚀")}, "static")
    fits = validate_files({**STATIC_FILES, "README.md": _card(short_description="a" * 60)}, "static")
    assert any("short_description" in p for p in too_long) and not any("short_description" in p for p in fits)


# --------------------------------------------------------------------------- item 16: the fake Hub as recorded


def _recorded_answer(test: str, method: str, path_end: str) -> Any:
    found = next(i for i in cassette(test) if i["request"]["method"] == method
                 and i["request"]["uri"].split("?")[0].endswith(path_end))
    text = found["response"]["body"]["string"]
    return text if found["response"]["headers"]["Content-Type"][0].startswith("text/plain") else json.loads(text)


def test_fake_static_runtime_has_the_recorded_shape(fake_hub: FakeHub):
    mine = httpx2.get(f"{fake_hub.url}/api/spaces/bob/static-site/runtime").json()
    theirs = _recorded_answer("test_static_space_runtime", "GET", "/runtime")
    assert mine == theirs


def test_fake_semantic_hits_have_short_description_and_no_tags(fake_hub: FakeHub):
    mine = httpx2.get(f"{fake_hub.url}/api/spaces/semantic-search", params={"q": "hello"}).json()[0]
    theirs = recorded("hf-mcp-server/space-result.json")[0]
    assert "shortDescription" in mine and "tags" not in mine and "tags" not in theirs
    assert set(mine) <= set(theirs), set(mine) - set(theirs)


def test_fake_preupload_carries_commit_oid_and_delete_answers_ok(fake_hub: FakeHub):
    fake_hub.add_space(FakeSpace("alice/app", sdk="gradio", files={"app.py": b"x"}))
    headers = {"authorization": f"Bearer {TOKEN}"}
    mine = httpx2.post(f"{fake_hub.url}/api/spaces/alice/app/preupload/main", headers=headers,
                       json={"files": [{"path": "new.py", "sample": "", "size": 1},
                                       {"path": "app.py", "sample": "", "size": 1}]}).json()
    theirs = _recorded_answer("test_pause_and_restart_space", "POST", "/preupload/main")
    assert set(mine) == set(theirs) == {"files", "commitOid"}
    assert "oid" not in mine["files"][0] and "oid" in mine["files"][1]
    deleted = httpx2.request("DELETE", f"{fake_hub.url}/api/repos/delete", headers=headers,
                             json={"name": "app", "organization": "alice", "type": "space"})
    assert deleted.text == _recorded_answer("test_static_space_runtime", "DELETE", "/api/repos/delete") == "OK"
    assert deleted.headers["content-type"].startswith("text/plain")


def test_fake_keyword_search_matches_the_repo_id_not_the_title(fake_hub: FakeHub):
    fake_hub.add_space(FakeSpace("alice/xyz", title="Zebra Painter"))
    hub = HubClient(fake_hub.url, TOKEN)
    assert hub.search_spaces("zebra").items == []
    assert [r["id"] for r in hub.search_spaces("xyz").items] == ["alice/xyz"]


def test_paper_search_is_capped_and_no_page_lies_beyond_the_cap(fake_hub: FakeHub):
    """The Hub answers at most 120 papers per search (hf-mcp-server's PAPER_SEARCH_LIMIT)."""
    assert f"const PAPER_SEARCH_LIMIT = {PAPER_SEARCH_CAP};" in recorded("hf-mcp-server/hf-fs-papers.ts")
    template = fake_hub.papers[0]
    fake_hub.papers = [{**template, "paper": {**template["paper"], "id": f"2401.{n:05d}"}} for n in range(130)]
    hub = HubClient(fake_hub.url, None)
    last = hub.search_papers("attention", page=6, limit=20)
    assert len(last.items) == 20 and not last.has_next
    assert int(fake_hub.last("GET", "/api/papers/search").param("limit")) <= PAPER_SEARCH_CAP
    with pytest.raises(HubActionError) as caught:
        hub.search_papers("attention", page=7, limit=20)
    assert caught.value.kind == HubErrorKind.INVALID_INPUT and "at most 120 papers" in caught.value.message


def _recorded_stages() -> list[str]:
    union = re.search(r"export type SpaceStage =([^;]+);", recorded("huggingface.js/public.ts")).group(1)
    return re.findall(r'"([A-Z_]+)"', union)


def test_every_recorded_stage_is_read_and_sleeping_is_asleep(fake_hub: FakeHub):
    stages = _recorded_stages()
    assert "SLEEPING" in stages
    spaces = SpaceManager(HubClient(fake_hub.url, TOKEN))
    for stage in stages:
        fake_hub.add_space(FakeSpace("alice/app", sdk="gradio", stages=[stage]))
        state = spaces.runtime("alice/app")
        assert state.stage == stage and state.is_settled == (stage not in INTERMEDIATE_STAGES)
    fake_hub.add_space(FakeSpace("alice/app", sdk="gradio", stages=["SLEEPING"]))
    asleep = spaces.wait_for_stage("alice/app", timeout=5)
    assert asleep.is_asleep and not asleep.is_error and asleep.hardware is None
