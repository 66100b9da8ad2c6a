"""One console replica for the replica tests: a Router and a Manager in their own process, on the database
the test names, against the test's local OpenAI-compatible server.

    python tests/replica_process.py DB URL [PROMPT ...]      # PYTHONPATH=<repo>

It prints `owner <owner id>`, submits each PROMPT as a task of session `visitor` (with the keys in the
JSON object `REPLICA_KEYS`, if set: passed by environment, never on the command line) and prints
`task <id>` for each, then runs until it is killed. `REPLICA_WORKERS` sets its worker threads.
"""

from __future__ import annotations

import json
import os
import sys
import time

from core.agent.manager import Manager
from core.llm.router import Router

LEASE_S, HEARTBEAT_S = 1.0, 0.2


def main(db: str, url: str, *prompts: str) -> None:
    router = Router.from_config({"alpha": {"url": url, "api_key": "k", "models": ["fake/small"]}}, db=db)
    manager = Manager(router, workers=int(os.environ.get("REPLICA_WORKERS", "2")), lease_s=LEASE_S,
                      heartbeat_s=HEARTBEAT_S)
    print("owner", manager.owner_id, flush=True)
    keys = json.loads(os.environ.get("REPLICA_KEYS") or "{}")
    for prompt in prompts:
        print("task", manager.submit(prompt, session="visitor", keys=keys).id, flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main(*sys.argv[1:])
