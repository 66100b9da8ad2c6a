"""Hub explorer against the fake Hub: what is sent, what comes back, paging, the session cache, errors."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx2
import pytest

from core.hub.client import HubClient, SearchCache, parse_router_model
from core.hub.errors import HubActionError, HubErrorKind, retry_after_seconds, to_hub_error
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeHub, FakeModel

TOKEN = SENTINEL_HF
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture
def client(fake_hub: FakeHub) -> HubClient:
    return HubClient(fake_hub.url, TOKEN, router_url=fake_hub.router_url, cache=SearchCache())


def _no_token_anywhere(*texts: object) -> None:
    for text in texts:
        assert TOKEN not in str(text)


# --------------------------------------------------------------------------- search: what is sent


def test_keyword_space_search_sends_search_sdk_filter_sort_and_the_token(client: HubClient,
                                                                         fake_hub: FakeHub) -> None:
    page = client.search_spaces("hello", sdk="gradio", sort="likes", limit=5)

    sent = fake_hub.last("GET", "/api/spaces")
    assert sent.param("search") == "hello"
    assert sent.query["filter"] == ["gradio"]
    assert sent.param("sort") == "likes"
    assert sent.param("limit") == "6"                       # one more than the page: is there a next page?
    assert "runtime" in sent.query["expand"] and "cardData" in sent.query["expand"]
    assert sent.authorization == f"Bearer {TOKEN}"
    assert [row["id"] for row in page.items] == ["gradio/hello-world"]
    row = page.items[0]
    assert (row["title"], row["sdk"], row["stage"], row["hardware"], row["likes"]) == \
        ("Hello World", "gradio", "RUNNING", "cpu-basic", 120)
    assert row["url"] == f"{fake_hub.url}/spaces/gradio/hello-world"
    assert page.has_next is False


def test_semantic_space_search_uses_the_semantic_endpoint_with_sdk(client: HubClient, fake_hub: FakeHub) -> None:
    page = client.search_spaces("generate images", semantic=True, sdk="gradio")

    sent = fake_hub.last("GET", "/api/spaces/semantic-search")
    assert sent.param("q") == "generate images" and sent.query["sdk"] == ["gradio"]
    assert page.items[0]["id"] == "black-forest-labs/FLUX.1-schnell"
    assert page.items[0]["category"] == "Image Generation"
    assert page.items[0]["stage"] == "RUNNING" and page.items[0]["hardware"] == "zero-a10g"
    assert 0 < page.items[0]["score"] <= 1


def test_model_search_sends_task_library_provider_and_sort(client: HubClient, fake_hub: FakeHub) -> None:
    page = client.search_models("llama", task="text-generation", library="transformers",
                                inference_provider="together", sort="likes", limit=10)

    sent = fake_hub.last("GET", "/api/models")
    assert sent.param("search") == "llama"
    assert sent.param("pipeline_tag") == "text-generation"
    assert sent.query["filter"] == ["transformers"]
    assert sent.param("inference_provider") == "together"
    assert sent.param("sort") == "likes" and sent.param("limit") == "11"
    assert [r["id"] for r in page.items] == [LLAMA]
    assert page.items[0]["task"] == "text-generation" and page.items[0]["url"] == f"{fake_hub.url}/{LLAMA}"


def test_sort_names_are_translated_to_the_hubs_values(client: HubClient, fake_hub: FakeHub) -> None:
    client.search_models(sort="trending")
    client.search_datasets(sort="modified")
    client.search_spaces(sort="created")
    assert fake_hub.last("GET", "/api/models").param("sort") == "trendingScore"
    assert fake_hub.last("GET", "/api/datasets").param("sort") == "lastModified"
    assert fake_hub.last("GET", "/api/spaces").param("sort") == "createdAt"


def test_dataset_paper_and_docs_search_rows(client: HubClient, fake_hub: FakeHub) -> None:
    datasets = client.search_datasets("gsm")
    papers = client.search_papers("attention", limit=5)
    docs = client.search_docs("streamlit docker", product="hub")

    assert [d["id"] for d in datasets.items] == ["openai/gsm8k"]
    assert datasets.items[0]["url"] == f"{fake_hub.url}/datasets/openai/gsm8k"
    sent = fake_hub.last("GET", "/api/papers/search")
    assert sent.param("q") == "attention" and sent.param("limit") == "6"
    assert papers.items[0]["title"] == "Attention Is All You Need"
    assert papers.items[0]["authors"] == "Ashish Vaswani, Noam Shazeer"
    assert papers.items[0]["url"] == f"{fake_hub.url}/papers/1706.03762"
    sent = fake_hub.last("GET", "/api/docs/search")
    assert sent.param("q") == "streamlit docker" and sent.param("product") == "hub"
    assert {d["title"] for d in docs.items} == {"Streamlit Spaces", "Docker Spaces"}
    assert docs.items[0]["section"] == "Streamlit Spaces › Deprecation"
    assert docs.items[0]["url"].startswith("https://huggingface.co/docs/hub/")


def test_anonymous_client_sends_no_token_even_with_hf_token_in_the_environment(
        fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_fromTheEnvironment0000")
    client = HubClient(fake_hub.url, None, router_url=fake_hub.router_url)
    client.search_models("gpt2")                        # our own listing request
    client.search_spaces("hello world", semantic=True)  # HfApi calls
    client.search_papers("attention")
    client.model_details(LLAMA)
    assert len(fake_hub.requests) == 5
    assert [r.authorization for r in fake_hub.requests] == [None] * 5


# --------------------------------------------------------------------------- paging


def test_pages_follow_link_headers_and_report_whether_more_exist(client: HubClient, fake_hub: FakeHub) -> None:
    for i in range(5):
        fake_hub.add_model(FakeModel(f"acme/m-{i}", downloads=100 - i))
    fake_hub.page_size = 2   # the server pages every 2 items with Link headers

    second = client.search_models(author="acme", sort="downloads", page=2, limit=2)
    assert [r["id"] for r in second.items] == ["acme/m-2", "acme/m-3"] and second.has_next
    cursors = [r.param("cursor") for r in fake_hub.requests_to("GET", "/api/models")]
    assert cursors == [None, "2", "4"]
    assert all(r.param("author") == "acme" for r in fake_hub.requests_to("GET", "/api/models"))

    third = client.search_models(author="acme", sort="downloads", page=3, limit=2)
    assert [r["id"] for r in third.items] == ["acme/m-4"] and third.has_next is False


def test_a_next_link_to_another_host_is_not_followed(client: HubClient, fake_hub: FakeHub) -> None:
    with FakeHub() as elsewhere:
        fake_hub.fail("/api/models", 200, body=[{"id": "acme/first"}],
                      headers={"Link": f'<{elsewhere.url}/api/models?cursor=1>; rel="next"'})
        page = client.search_models(limit=5)
        assert [r["id"] for r in page.items] == ["acme/first"]
        assert elsewhere.requests == []          # the token never went to the other host


def test_page_number_and_size_are_bounded_before_sending(client: HubClient, fake_hub: FakeHub) -> None:
    for bad in ({"page": 0}, {"page": 51}, {"limit": 0}, {"limit": 101}, {"sort": "stars"}):
        with pytest.raises(HubActionError) as caught:
            client.search_models("x", **bad)
        assert caught.value.kind == HubErrorKind.INVALID_INPUT
    with pytest.raises(HubActionError, match="Type something"):
        client.search_papers("   ")
    assert fake_hub.requests == []


# --------------------------------------------------------------------------- per-session cache


def test_identical_search_within_ttl_is_served_from_the_session_cache(fake_hub: FakeHub) -> None:
    now = [1000.0]
    cache = SearchCache(ttl=60, clock=lambda: now[0])
    client = HubClient(fake_hub.url, TOKEN, cache=cache)

    first = client.search_models("gpt2", sort="likes")
    again = client.search_models("gpt2", sort="likes")
    assert again == first and len(fake_hub.requests_to("GET", "/api/models")) == 1

    client.search_models("gpt2", sort="downloads")             # other parameters: a new request
    assert len(fake_hub.requests_to("GET", "/api/models")) == 2

    HubClient(fake_hub.url, TOKEN, cache=SearchCache(ttl=60)).search_models("gpt2", sort="likes")
    assert len(fake_hub.requests_to("GET", "/api/models")) == 3   # another session's cache

    HubClient(fake_hub.url, None, cache=cache).search_models("gpt2", sort="likes")
    assert len(fake_hub.requests_to("GET", "/api/models")) == 4   # same cache, other token: not shared

    now[0] += 61
    client.search_models("gpt2", sort="likes")
    assert len(fake_hub.requests_to("GET", "/api/models")) == 5   # expired


def test_fresh_skips_the_cache_and_the_cache_is_bounded(fake_hub: FakeHub) -> None:
    cache = SearchCache(ttl=60, max_entries=2)
    client = HubClient(fake_hub.url, TOKEN, cache=cache)
    client.search_spaces("hello")
    client.search_spaces("hello", fresh=True)
    assert len(fake_hub.requests_to("GET", "/api/spaces")) == 2
    client.search_spaces("a")
    client.search_spaces("b")
    assert len(cache) == 2


# --------------------------------------------------------------------------- details


def test_model_details_join_provider_prices_from_the_router(client: HubClient, fake_hub: FakeHub) -> None:
    details = client.model_details(LLAMA)

    sent = fake_hub.last("GET", f"/api/models/{LLAMA}")
    assert {"inferenceProviderMapping", "cardData", "siblings", "downloads"} <= set(sent.query["expand"])
    assert sent.authorization == f"Bearer {TOKEN}"
    router = fake_hub.last("GET", f"/router/v1/models/{LLAMA}")
    assert router.authorization is None                  # the price listing is public: no token sent
    assert details.license == "llama3.1" and details.card["language"] == ["en", "de"]
    assert details.likes == 5000 and details.downloads == 9_000_000
    assert "model-00001-of-00004.safetensors" in [f.path for f in details.files]
    offers = {o.provider: o for o in details.providers}
    assert offers["groq"].provider_model_id == "llama-3.1-8b-instant"
    assert (offers["groq"].price_input, offers["groq"].price_output) == (0.05, 0.08)
    assert offers["together"].context_length == 131072 and offers["together"].supports_tools is True
    assert details.prices_note == ""
    json.dumps(details.to_dict())


def test_model_details_keep_providers_when_the_router_is_down(client: HubClient, fake_hub: FakeHub) -> None:
    fake_hub.fail(f"/router/v1/models/{LLAMA}", 503)
    details = client.model_details(LLAMA)
    assert {o.provider for o in details.providers} == {"together", "groq"}
    assert all(o.price_input is None for o in details.providers)
    assert "Prices unavailable" in details.prices_note and "unavailable" in details.prices_note


def test_model_without_router_entry_has_no_prices_and_no_note(client: HubClient) -> None:
    details = client.model_details("Qwen/Qwen2.5-7B-Instruct")
    assert [(o.provider, o.price_input) for o in details.providers] == [("together", None)]
    assert details.prices_note == ""


def test_prices_come_only_from_a_router_named_for_a_non_public_endpoint(fake_hub: FakeHub) -> None:
    details = HubClient(fake_hub.url, TOKEN).model_details(LLAMA)   # no router_url given
    assert fake_hub.requests_to("GET", f"/router/v1/models/{LLAMA}") == []
    assert {o.provider for o in details.providers} == {"together", "groq"}
    assert "no inference router is configured" in details.prices_note
    assert HubClient("https://huggingface.co/", None).router_url == "https://router.huggingface.co/v1"


def test_space_and_dataset_details(client: HubClient, fake_hub: FakeHub) -> None:
    space = client.space_details("gradio/hello-world")
    assert (space.stage, space.hardware, space.sdk, space.title) == ("RUNNING", "cpu-basic", "gradio", "Hello World")
    assert space.host == "https://gradio-hello-world.hf.space"
    assert {f.path for f in space.files} == {"README.md", "app.py", "requirements.txt"}
    dataset = client.dataset_details("openai/gsm8k")
    assert dataset.license == "mit" and dataset.downloads == 400_000
    assert dataset.url == f"{fake_hub.url}/datasets/openai/gsm8k"


def test_router_entry_is_read_in_every_known_shape() -> None:
    entry = {"id": "a/b", "providers": [{"provider": "groq", "pricing": {"input": 1, "output": 2}}]}
    for body in (entry, {"data": entry}, {"data": [{"id": "x/y", "providers": []}, entry]}):
        assert parse_router_model(body, "a/b")["groq"]["pricing"] == {"input": 1, "output": 2}
    assert parse_router_model({"data": []}, "a/b") == {} and parse_router_model("nonsense", "a/b") == {}


# --------------------------------------------------------------------------- errors in plain words


def test_429_on_search_fails_fast_with_retry_after(client: HubClient, fake_hub: FakeHub) -> None:
    fake_hub.fail("/api/models", 429, retry_after=7)
    started = time.monotonic()
    with pytest.raises(HubActionError) as caught:
        client.search_models("llama")
    assert time.monotonic() - started < 2                      # no library backoff sleeping through it
    assert len(fake_hub.requests_to("GET", "/api/models")) == 1
    err = caught.value
    assert err.kind == HubErrorKind.RATE_LIMITED and err.retry_after == 7 and err.status == 429
    assert "rate limiting" in err.message and "retry after 7 s" in err.message


def test_not_found_names_what_was_missing(client: HubClient) -> None:
    with pytest.raises(HubActionError) as caught:
        client.space_details("bob/no-such-space")
    assert caught.value.kind == HubErrorKind.NOT_FOUND
    assert caught.value.message == "Space 'bob/no-such-space' was not found."
    with pytest.raises(HubActionError, match="Model 'nobody/nothing' was not found"):
        client.model_details("nobody/nothing")


def test_a_401_marked_repo_not_found_reads_as_not_found(client: HubClient, fake_hub: FakeHub) -> None:
    # The Hub answers 401 + X-Error-Code: RepoNotFound for a private or missing repo.
    fake_hub.fail("/api/spaces/bob/secret-space", 401, headers={"X-Error-Code": "RepoNotFound"})
    with pytest.raises(HubActionError) as caught:
        client.space_details("bob/secret-space")
    assert caught.value.kind == HubErrorKind.NOT_FOUND and caught.value.status == 401
    assert "private repo is only visible with a token" in caught.value.hint


def test_gated_repo_and_missing_route_read_correctly(client: HubClient, fake_hub: FakeHub) -> None:
    fake_hub.fail(f"/api/models/{LLAMA}", 403, headers={"X-Error-Code": "GatedRepo"})
    with pytest.raises(HubActionError) as caught:
        client.model_details(LLAMA)
    assert caught.value.kind == HubErrorKind.FORBIDDEN and f"Model '{LLAMA}' is gated" in caught.value.message
    fake_hub.fail("/api/docs/search", 404)
    with pytest.raises(HubActionError) as caught:
        client.search_docs("x")
    assert caught.value.message == "The Hub could not find what was asked, so we could not search the documentation."


def test_refused_token_is_named_by_its_mask_only(fake_hub: FakeHub) -> None:
    bad = "hf_refusedTokenValue9876"
    with pytest.raises(HubActionError) as caught:
        HubClient(fake_hub.url, bad).search_datasets("x")
    err = caught.value
    assert err.kind == HubErrorKind.AUTH and err.status == 401
    assert "hf_…9876" in err.message and bad not in str(err)
    assert f"{fake_hub.url}/settings/tokens" in err.hint
    assert err.__cause__ is None and err.__suppress_context__


def test_server_words_are_kept_for_other_4xx_but_redacted(client: HubClient, fake_hub: FakeHub) -> None:
    fake_hub.fail("/api/docs/search", 400, body={"error": f"token {TOKEN} cannot search product 'zzz'"})
    with pytest.raises(HubActionError) as caught:
        client.search_docs("x", product="zzz")
    err = caught.value
    assert err.kind == HubErrorKind.BAD_REQUEST and "cannot search product" in err.message
    assert "hf_…cdef" in err.message
    _no_token_anywhere(err, err.message, err.hint, repr(err.to_dict()))


def test_server_errors_and_unreachable_hub_mean_unavailable(client: HubClient, fake_hub: FakeHub) -> None:
    fake_hub.fail("/api/papers/search", 503)
    with pytest.raises(HubActionError) as caught:
        client.search_papers("llama")
    assert caught.value.kind == HubErrorKind.UNAVAILABLE and "HTTP 503" in caught.value.message

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(HubActionError) as caught:
        HubClient(f"http://127.0.0.1:{closed_port}", TOKEN).search_models("x")
    assert caught.value.kind == HubErrorKind.UNAVAILABLE
    assert "Could not reach the Hugging Face Hub" in caught.value.message


def test_invalid_repo_id_is_refused_before_sending(client: HubClient, fake_hub: FakeHub) -> None:
    with pytest.raises(HubActionError) as caught:
        client.model_details("not a/valid..id")
    assert caught.value.kind == HubErrorKind.INVALID_NAME and "Nothing was sent" in caught.value.hint
    with pytest.raises(HubActionError) as caught:
        HubClient(fake_hub.url, None).whoami()
    assert caught.value.kind == HubErrorKind.AUTH and "none is set" in caught.value.message
    assert fake_hub.requests == []


def test_retry_after_reads_seconds_dates_and_ratelimit_headers() -> None:
    request = httpx2.Request("GET", "http://127.0.0.1/x")
    assert retry_after_seconds(httpx2.Response(429, headers={"Retry-After": "12"}, request=request)) == 12
    when = datetime(2030, 1, 1, tzinfo=UTC)
    dated = httpx2.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)}, request=request)
    assert retry_after_seconds(dated, now=(when - timedelta(seconds=30)).timestamp()) == 30
    limited = httpx2.Response(429, headers={"RateLimit": '"api";r=0;t=42', "RateLimit-Policy": '"fixed";q=500;w=300'},
                              request=request)
    assert retry_after_seconds(limited) == 42
    assert retry_after_seconds(httpx2.Response(429, headers={"Retry-After": "soon"}, request=request)) is None


def test_unknown_failures_are_not_mistaken_for_bad_input() -> None:
    err = to_hub_error(json.JSONDecodeError("x", "doc", 0), endpoint="http://h", action="search models")
    assert err.kind == HubErrorKind.UNAVAILABLE
    err = to_hub_error(TimeoutError(f"still building with {TOKEN}"), endpoint="http://h", action="wait",
                       token=TOKEN)
    assert err.kind == HubErrorKind.TIMEOUT
    _no_token_anywhere(err)
