"""Runs last (see conftest): a sentinel BYOK key must be absent from every database file the suite
wrote (with -wal/-shm), from the captured logs, from every exception message and from the Metrics
CSV export: as written, base64-encoded (standard or URL-safe, at any byte offset), percent-encoded,
or split over lines."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from core.errors import AllProvidersFailed, SpacesOSError, StreamInterrupted
from core.llm.router import Router
from core.store import Store
from tests.conftest import CAPTURED_LOGS, SENTINEL_HF, SENTINEL_KEY
from tests.fake_openai import Hang, NotJSON, Status, StreamThenError, Truncated

MSG = [{"role": "user", "content": "leak test"}]
SENTINELS = (SENTINEL_KEY, SENTINEL_HF)
_SPLITTERS = re.compile(r"\s|\\[nrt]")


def _base64_cores(key: str) -> list[str]:
    """The key's base64 at each byte offset, without the edge characters that mix in its neighbours."""
    cores = []
    for offset in range(3):
        core = base64.b64encode(b"\0" * offset + key.encode()).decode()[3:-3]
        cores += [core, core.replace("+", "-").replace("/", "_")]
    return cores


def leaked_copies(text: str | bytes) -> list[str]:
    """Which copies of a sentinel key `text` holds: raw, split over lines, base64 or percent-encoded."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    joined = _SPLITTERS.sub("", text)
    found = []
    for sentinel in SENTINELS:
        if sentinel in joined:
            found.append(f"{sentinel} (as written or split)")
        if "".join(f"%{b:02x}" for b in sentinel.encode()) in joined.lower():
            found.append(f"{sentinel} percent-encoded")
        found += [f"{sentinel} base64 {core}" for core in _base64_cores(sentinel) if core in joined]
    return found


def _encoded(key: str) -> list[str]:
    raw = key.encode()
    return [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(b"token:" + raw).decode().rstrip("="),
            "".join(f"%{b:02X}" for b in raw), key[:7] + "\n" + key[7:18] + "\r\n  " + key[18:]]


def _exercise_every_failure(fake, fake_b, db_path: str) -> list[str]:
    """Drive each error kind with the sentinel as the session key; return every message produced."""
    cfg = {"alpha": {"url": fake.url, "api_key": "shared-alpha", "timeout": 0.5},
           "huggingface": {"url": fake_b.url},
           "router": {"max_retries": 0, "cooldown_after": 100}}
    router = Router.from_config(cfg, db=db_path)
    keys = {"alpha": SENTINEL_KEY, "huggingface": SENTINEL_HF}
    messages = []
    # Servers that echo the key back in their error text are the worst case for redaction.
    behaviours = [Status(401, f"invalid api key {SENTINEL_KEY}"), Status(402, f"no credits for {SENTINEL_KEY}"),
                  Status(429, f"slow down {SENTINEL_KEY}", retry_after="1"), Status(500, SENTINEL_KEY),
                  NotJSON(200, f"<html>{SENTINEL_KEY}</html>"), Hang(1.0), StreamThenError(2, SENTINEL_KEY),
                  Truncated(0), NotJSON(500, "x" * 190 + SENTINEL_KEY),
                  *(Status(401, f"bad key {copy}") for copy in _encoded(SENTINEL_KEY)),
                  NotJSON(502, " ".join(_encoded(SENTINEL_KEY))), StreamThenError(1, " ".join(_encoded(SENTINEL_KEY)))]
    for behaviour in behaviours:
        fake.reset()
        fake_b.reset()
        fake.default = behaviour
        fake_b.default = Status(401, f"bad token {SENTINEL_HF} " + " ".join(_encoded(SENTINEL_HF)))
        try:
            if isinstance(behaviour, (StreamThenError, Truncated)):
                for _ in router.stream(MSG, keys=keys, session="s"):
                    pass
            else:
                router.chat(MSG, keys=keys, session="s")
        except (AllProvidersFailed, StreamInterrupted) as e:
            messages.append(str(e))
            messages.extend(a.error or "" for a in e.attempts)
        except SpacesOSError as e:
            messages.append(str(e))
    router.close()
    return messages


def test_the_leak_check_sees_every_kind_of_copy():
    for copy in [*_encoded(SENTINEL_KEY), *_encoded(SENTINEL_HF), SENTINEL_KEY]:
        assert leaked_copies(f"error: {copy}."), copy


def test_sentinel_key_is_nowhere_after_the_suite(fake, fake_b, tmp_path_factory, db_path):
    messages = _exercise_every_failure(fake, fake_b, db_path)
    assert len(messages) >= 8, "the failure paths did not run"
    # The sentinel did reach the fake providers (so its absence below means something).
    assert any(SENTINEL_KEY in (r.headers.get("authorization") or "") for r in fake.requests) or \
        any(SENTINEL_HF in (r.headers.get("authorization") or "") for r in fake_b.requests)
    for text in messages:
        assert not leaked_copies(text), text

    root = Path(tmp_path_factory.getbasetemp())
    db_files = [p for p in root.rglob("*") if p.is_file() and (".db" in p.name or p.suffix in (".sqlite", ".wal"))]
    assert any(p.name.endswith(".db") for p in db_files), "no database file was written by the suite"
    for path in db_files:
        assert not leaked_copies(path.read_bytes()), f"sentinel key found in {path}"

    logs = "\n".join(CAPTURED_LOGS)
    assert "attempt" in logs, "router logs were not captured"
    assert not leaked_copies(logs)

    export = "".join(Store(db_path).usage_csv(0))       # the Metrics page's "Download usage.csv"
    assert "bad key" in export, "the failures did not reach the CSV export"
    assert not leaked_copies(export)


@pytest.mark.parametrize("sentinel", SENTINELS)
def test_redaction_masks_the_exact_key_even_when_it_looks_like_nothing(sentinel):
    from core.llm.keys import mask, redact
    text = redact(f"server said: bad key {sentinel}!", [sentinel])
    assert sentinel not in text and mask(sentinel) in text
