"""The composition root: config, store, router and manager built once per process, and the application
services (chat, tasks, providers, rules) that the pages, the MCP server and the HTTP API all call.

    root = ServiceRoot()                  # the app caches one per process
    svc = root.current()                  # rebuilt when the config file changed
    svc.chat.send(ctx, "hi", ChatOptions())

Never holding a session's key: keys travel with each call in a `SessionContext`. A broken config
does not crash the app: `Services.config_error` carries the readable error, pages that need a
provider show it, and the others (Spaces, Metrics) keep working under a banner.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from core import demo
from core.agent.manager import Manager
from core.agent.rules import RULES_FILE, RoutingRules, RulesError, load_rules
from core.errors import ConfigError
from core.hub import transport as hub_transport
from core.llm.budget import Budget, HostedSettings, hosted_settings
from core.llm.config import LOOKUP_FILES, AppConfig, find_config_path, load_config
from core.llm.policy import HostedPolicy
from core.llm.router import Router
from core.store import Store, default_db_path

if TYPE_CHECKING:
    from core.app.chat import ChatService
    from core.app.providers import ProviderService
    from core.app.rules import RulesService
    from core.app.tasks import TaskService


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
    operator_token: str | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)
    reloaded: bool = False          # built again after a config or rules file changed

    @cached_property
    def policy(self) -> HostedPolicy:
        """What a session may do here; every service asks it."""
        return HostedPolicy(self.hosted_settings, operator_token=self.operator_token)

    @property
    def ok(self) -> bool:
        return self.router is not None

    @property
    def hosted(self) -> bool:
        return self.hosted_settings.enabled

    # The application services every adapter (pages, MCP server, HTTP API) calls with a SessionContext.
    @cached_property
    def chat(self) -> ChatService:
        from core.app.chat import ChatService
        return ChatService(self)

    @cached_property
    def tasks(self) -> TaskService:
        from core.app.tasks import TaskService
        return TaskService(self)

    @cached_property
    def providers(self) -> ProviderService:
        from core.app.providers import ProviderService
        return ProviderService(self)

    @cached_property
    def rules(self) -> RulesService:
        from core.app.rules import RulesService
        return RulesService(self)


def build_services(env: Mapping[str, str] | None = None, cwd: str | Path | None = None,
                   store: Store | None = None) -> Services:
    """Read config and rules, open the store (or reuse `store`), and start the router and manager."""
    demo.install()
    hub_transport.install()   # every Hub call: no cookie jar, no redirect to another origin
    env = dict(os.environ) if env is None else dict(env)
    store = store or Store(default_db_path(env))
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
    svc = Services(config, store, router, None, rules_error=rules_error, config_path=path, rules_path=rules_path,
                   hub_endpoint=hub, hosted_settings=hosted, notes=list(config.warnings),
                   operator_token=env.get("SPACES_OS_OPERATOR_TOKEN") or None)
    if rules is not None:
        apply_rules(svc, rules)
    return svc


def _stamp(path: str | Path) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), None)
    return (str(path), st.st_mtime_ns, st.st_size)


class ServiceRoot:
    """The composition root: builds the services once per process and rebuilds them when the config or
    routing-rules file changes (or appears, or is fixed), so an edit takes effect on the next page run
    without a restart. The store is kept; the old manager is shut down (running tasks checkpoint)."""

    def __init__(self, env: Mapping[str, str] | None = None, cwd: str | Path | None = None):
        self.env = dict(os.environ) if env is None else dict(env)
        self.cwd = Path(cwd or Path.cwd())
        self._lock = threading.Lock()
        self._services: Services | None = None
        self._stamps: tuple = ()
        self._key: tuple = ()
        atexit.register(self.shutdown)

    def _watched(self) -> tuple:
        """What the services were built from: the config file (or the files the lookup would find) and
        the rules file. Three `stat` calls a page run."""
        explicit = self.env.get("AGENTIC_CONFIG")
        files = [explicit] if explicit else [self.cwd / name for name in LOOKUP_FILES]
        files.append(self.env.get("SPACES_OS_ROUTING") or str(RULES_FILE))
        return tuple(_stamp(f) for f in files)

    def current(self) -> Services:
        """The services for this page run: rebuilt if the config file changed; the rules reloaded in place
        (running tasks keep running) if only the rules file did."""
        stamps = self._watched()
        with self._lock:
            old = self._services
            if old is None or stamps[:-1] != self._stamps[:-1]:
                if old is not None and old.manager is not None:
                    old.manager.shutdown(5.0)
                self._services = build_services(self.env, self.cwd, store=old.store if old else None)
                self._services.reloaded = old is not None
                if old is None:     # at exit the root closes its store, after the manager checkpointed into it
                    atexit.unregister(self._services.store.close)
                    atexit.unregister(self.shutdown)
                    atexit.register(self.shutdown)
            elif stamps[-1] != self._stamps[-1]:
                reload_rules(old)
            self._stamps = stamps
            return self._services

    _shared: ServiceRoot | None = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> ServiceRoot:
        """The process's root for the current environment and folder. Asking again (e.g. after someone
        clears Streamlit's resource cache) returns the same root, so running tasks keep their one owner
        and no manager is started twice; a different environment (a test) replaces and shuts down the old."""
        key = cls._environment_key()
        with cls._shared_lock:
            current = cls._shared
            if current is not None and current._key == key:
                return current
            if current is not None:
                current.shutdown()
            cls._shared = cls()
            cls._shared._key = key
            return cls._shared

    _environment_seen: tuple[dict, str, tuple] | None = None

    @classmethod
    def _environment_key(cls) -> tuple:
        """The folder and the environment, as `shared()` compares them. Sorting the environment costs about
        20 µs, on every API request; comparing os.environ's raw dict with the one seen last costs about 1."""
        cwd = os.getcwd()
        raw = getattr(os.environ, "_data", None)        # CPython's os._Environ: the bytes it wraps
        seen = cls._environment_seen
        if raw is not None and seen is not None and seen[1] == cwd and seen[0] == raw:
            return seen[2]
        key = (cwd, tuple(sorted(os.environ.items())))
        if raw is not None:
            cls._environment_seen = (dict(raw), cwd, key)
        return key

    def shutdown(self) -> None:
        """A clean stop checkpoints running tasks, then closes the store (its writer, its PostgreSQL pool).
        Runs once (at exit unless called before); `current()` afterwards starts anew."""
        atexit.unregister(self.shutdown)
        with self._lock:
            services, self._services = self._services, None
            if services is None:
                return
            if services.manager is not None:
                services.manager.shutdown(5.0)
            services.store.close()


def apply_rules(svc: Services, rules: RoutingRules) -> None:
    """Use new routing rules at once, clamped by the hosted policy, keeping running tasks, keys in memory
    and cooldown state. Every rules change (start-up, file edit, the Routing page) comes through here."""
    rules = svc.policy.clamp_rules(rules)
    if svc.manager is not None:
        svc.manager.rules = rules
    elif svc.router is not None:
        svc.manager = Manager(svc.router, rules, max_tasks_total=svc.policy.max_tasks_total)
    svc.rules_error = None


def reload_rules(svc: Services) -> None:
    """Read the rules file again; a broken file keeps the running rules and says why."""
    try:
        rules = load_rules(svc.rules_path)
    except RulesError as e:
        svc.rules_error = str(e)
        return
    apply_rules(svc, rules)
