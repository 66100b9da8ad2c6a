"""The process-wide services the pages share: config, store, router and manager.

Built once per process (the app caches the result), never holding a session's key: keys travel with
each call. A broken config does not crash the app: `Services.config_error` carries the readable
error and the pages show it instead of a traceback.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core import demo
from core.agent.manager import Manager
from core.agent.rules import RULES_FILE, RoutingRules, RulesError, load_rules
from core.errors import ConfigError
from core.llm.budget import Budget, HostedSettings, hosted_settings
from core.llm.config import AppConfig, find_config_path, load_config
from core.llm.router import Router
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
    rules_path: str = str(RULES_FILE)
    hub_endpoint: str = "https://huggingface.co"
    hosted_settings: HostedSettings = field(default_factory=HostedSettings)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.router is not None

    @property
    def hosted(self) -> bool:
        return self.hosted_settings.enabled


def build_services(env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> Services:
    """Read config and rules, open the store, and start the router and manager."""
    demo.install()
    env = dict(os.environ) if env is None else dict(env)
    store = Store(default_db_path(env))
    hub = env.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    path = None
    try:
        found = find_config_path(env, cwd)
        path = str(found) if found else None
        config = load_config(found, env=env, cwd=cwd) if found else load_config(None, env=env, cwd=cwd)
    except ConfigError as e:
        return Services(None, store, None, None, config_error=str(e), config_path=path, hub_endpoint=hub)
    try:
        hosted = hosted_settings(config.sections, env)
    except ConfigError as e:
        return Services(None, store, None, None, config_error=f"{path or 'config'}: {e}", config_path=path,
                        hub_endpoint=hub)
    rules_error = None
    rules_path = env.get("SPACES_OS_ROUTING") or str(RULES_FILE)
    try:
        rules: RoutingRules = load_rules(rules_path)
    except RulesError as e:
        rules_error = str(e)
        rules = None  # type: ignore[assignment]
    router = Router(config, store, budget=Budget(store, hosted) if hosted.enabled else None)
    manager = None
    if rules is not None:
        if hosted.enabled:
            rules.max_tasks_per_session = min(rules.max_tasks_per_session, hosted.max_tasks_per_session)
        manager = Manager(router, rules, max_tasks_total=hosted.max_tasks_total if hosted.enabled else None)
        atexit.register(manager.shutdown, 5.0)    # a clean stop checkpoints running tasks
    return Services(config, store, router, manager, rules_error=rules_error, config_path=path,
                    rules_path=rules_path, hub_endpoint=hub, hosted_settings=hosted, notes=list(config.warnings))


def apply_rules(svc: Services, rules: RoutingRules) -> None:
    """Use new routing rules at once, keeping running tasks, keys in memory and cooldown state."""
    if svc.manager is not None:
        svc.manager.rules = rules
    elif svc.router is not None:
        svc.manager = Manager(svc.router, rules, max_tasks_total=svc.hosted_settings.max_tasks_total
                              if svc.hosted else None)
    svc.rules_error = None
