"""Hosted safety, item 3: redact before you cut. A key across the 200-character cut, base64,
percent-encoded and split copies of a key in an upstream error, and a key in a task's answer are
removed before anything is shortened, stored, logged or shown."""

from __future__ import annotations

import base64
import sqlite3

import pytest

from core.agent.manager import Manager
from core.errors import AllProvidersFailed
from core.llm.keys import redact
from core.llm.router import Router
from tests.conftest import SENTINEL_KEY
from tests.fake_openai import NotJSON, Reply, Status

MSG = [{"role": "user", "content": "hello"}]


def encoded_copies(key: str) -> dict[str, str]:
    raw = key.encode()
    return {"base64": base64.b64encode(raw).decode(),
            "base64 unpadded": base64.b64encode(raw).decode().rstrip("="),
            "urlsafe base64 in basic auth": base64.urlsafe_b64encode(b"user:" + raw).decode().rstrip("="),
            "percent-encoded": "".join(f"%{b:02x}" for b in raw),
            "split over lines": key[:9] + "\n" + key[9:20] + "\\n" + key[20:]}


def stored_errors(db_path: str) -> list[str]:
    with sqlite3.connect(db_path) as db:
        return [row[0] or "" for row in db.execute("select error from usage")]


def router_for(fake, db_path: str) -> Router:
    return Router.from_config({"alpha": {"url": fake.url}, "router": {"max_retries": 0}}, db=db_path)


def test_a_key_across_the_200_character_cut_is_not_half_kept(fake, db_path):
    router = router_for(fake, db_path)
    fake.queue(NotJSON(500, "x" * 190 + SENTINEL_KEY + " and more text after the key"))
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG, keys={"alpha": SENTINEL_KEY}, session="s")
    router.close()
    texts = [info.value.attempts[0].error, str(info.value), *stored_errors(db_path)]
    assert any("xxxx" in t for t in texts)      # the body did reach the error text
    for text in texts:
        assert SENTINEL_KEY[:8] not in text, text


@pytest.mark.parametrize("encoding", list(encoded_copies(SENTINEL_KEY)))
def test_encoded_copies_of_the_key_in_an_upstream_error_are_removed(fake, db_path, encoding):
    copy = encoded_copies(SENTINEL_KEY)[encoding]
    router = router_for(fake, db_path)
    fake.queue(Status(401, f"invalid credentials: {copy}"))
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG, keys={"alpha": SENTINEL_KEY}, session="s")
    router.close()
    core = copy[6:-6]      # the middle of the copy, free of the edges that mix in neighbouring bytes
    for text in [info.value.attempts[0].error, str(info.value), *stored_errors(db_path)]:
        assert "invalid credentials" in text or text == str(info.value)
        assert core not in text, text


def test_redact_cuts_only_after_removing_the_key():
    text = redact("y" * 195 + SENTINEL_KEY, [SENTINEL_KEY], limit=200)
    assert len(text) <= 200 and SENTINEL_KEY[:5] not in text


def test_a_task_result_and_checkpoint_holding_the_key_are_stored_redacted(fake, db_path):
    router = router_for(fake, db_path)
    fake.default = Reply(f"Sure, your key {SENTINEL_KEY} was echoed back, also as "
                         f"{base64.b64encode(SENTINEL_KEY.encode()).decode()}.")
    manager = Manager(router)
    try:
        task = manager.submit("Write a detailed report on keys", session="s", keys={"alpha": SENTINEL_KEY},
                              label="COMPLEX")
        done = manager.wait(task.id, timeout=20)
        assert done.status == "done" and "echoed back" in done.result
    finally:
        manager.shutdown()
        router.close()
    with sqlite3.connect(db_path) as db:
        rows = db.execute("select coalesce(result, ''), coalesce(checkpoint, '') from tasks").fetchall()
    assert rows
    for result, checkpoint in rows:
        for text in (result, checkpoint):
            assert SENTINEL_KEY not in text
            assert base64.b64encode(SENTINEL_KEY.encode()).decode()[4:-4] not in text
