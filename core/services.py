"""The process-wide services the pages share: config, store, router and manager.

Built once per process (the app caches the result), never holding a session's key: keys travel with
each call. A broken config does not crash the app: `Services.config_error` carries the readable
error and the pages show it instead of a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.config import AppConfig, find_config_path, load_config
from core.errors import ConfigError
from core.manager import Manager
from core.router import Router
from core.routing_rules import RULES_FILE, RoutingRules, RulesError, load_rules
from core.store import Store, default_db_path


@dataclass
class Services:
    config: AppConfig | None
    store: Store
    router: Router | None
    manager: Manager | None
    config_error: str | None = None
    rules_error: str | None = None
    config_path: str | None = None
    hub_endpoint: str = "https://huggingface.co"
    hosted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.router is not None


def build_services(env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> Services:
    """Read config and rules, open the store, and start the router and manager."""
    env = dict(os.environ) if env is None else dict(env)
    store = Store(default_db_path(env))
    hub = env.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    hosted = bool(env.get("SPACE_ID")) or env.get("SPACES_OS_HOSTED") == "1"
    path = None
    try:
        found = find_config_path(env, cwd)
        path = str(found) if found else None
        config = load_config(found, env=env, cwd=cwd) if found else load_config(None, env=env, cwd=cwd)
    except ConfigError as e:
        return Services(None, store, None, None, config_error=str(e), config_path=path, hub_endpoint=hub,
                        hosted=hosted)
    rules_error = None
    try:
        rules: RoutingRules = load_rules(env.get("SPACES_OS_ROUTING", str(RULES_FILE)))
    except RulesError as e:
        rules_error = str(e)
        rules = None  # type: ignore[assignment]
    router = Router(config, store)
    manager = Manager(router, rules) if rules is not None else None
    return Services(config, store, router, manager, rules_error=rules_error, config_path=path, hub_endpoint=hub,
                    hosted=hosted, notes=list(config.warnings))
