"""Provider config: find it, parse it, interpolate `${VAR}`, validate it, order it.

Config flows one way: file (or environment) → `AppConfig` → router. This is the only module that
reads the process environment for provider settings; it takes `env` as a parameter so tests can
pass their own.

    cfg = load_config("agentic-config.yaml")        # or a dict, or None for the lookup order
    [p.name for p in cfg.providers]                  # plan order: priority first, then file order
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from core.errors import ConfigError
from core.llm.keys import mask
from core.llm.providers import CUSTOM_KIND, PROVIDER_CLASSES, kind_for_name
from core.llm.yaml_loader import load_yaml

LOOKUP_FILES = ("agentic-config.yaml", "agentic-config.yml", "agentic-config.json")
RESERVED_SECTIONS = {"providers", "router", "hosted", "budget", "mcp_servers"}
MAX_CONFIG_BYTES = 256 * 1024

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
HF_MCP_SERVER = "hf"               # the name `huggingface.mcp_url` gets; taken in `mcp_servers:`
MCP_DEFAULT_TIMEOUT = 10.0
MCP_MAX_TIMEOUT = 120.0
_MCP_SERVER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_MCP_SERVER_KEYS = ("url", "token", "timeout", "command", "args", "env")


@dataclass
class ProviderConfig:
    """One provider entry, validated. `api_key` is the shared (server) key, if any."""

    name: str
    kind: str                      # huggingface | openrouter | openai_compatible | demo
    api_key: str | None = None
    base_url: str | None = None    # chat-completions URL for openai_compatible; API base for the others
    priority: int | None = None    # rank; None means no priority
    fallback: bool = True          # may be tried after an earlier provider failed
    always_use_this_key: bool = False
    models: list[str] = field(default_factory=list)
    timeout: float = 60.0
    order: int = 0                 # position in the file
    keyless: bool = False          # an endpoint that needs no key (e.g. a local server)
    options: dict[str, Any] = field(default_factory=dict)   # provider-specific extras (mcp_url, bill_to…)

    @property
    def default_model(self) -> str | None:
        return self.models[0] if self.models else None


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server from the `mcp_servers:` section, validated: Streamable HTTP at `url` (with the
    bearer `token`, never shown in a repr), or a local process on stdio (`command`, `args`, `env`)."""

    name: str
    url: str | None
    token: str | None = field(default=None, repr=False)
    timeout: float = MCP_DEFAULT_TIMEOUT
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)   # may hold the server's own secrets

    @property
    def target(self) -> str:
        """Where it is, for people: the URL, or `stdio: command args`."""
        return self.url or " ".join(["stdio:", self.command or "", *self.args])


@dataclass
class RouterSettings:
    """Retry, cooldown and deadline knobs (the `router:` section)."""

    max_retries: int = 2
    backoff_base: float = 0.25
    backoff_cap: float = 4.0
    retry_after_cap: float = 10.0
    cooldown_after: int = 3
    cooldown_seconds: float = 30.0
    deadline: float = 120.0


@dataclass
class AppConfig:
    providers: list[ProviderConfig]
    router: RouterSettings = field(default_factory=RouterSettings)
    warnings: list[str] = field(default_factory=list)
    source: str = "environment"
    sections: dict[str, Any] = field(default_factory=dict)   # hosted/budget, validated elsewhere
    mcp_servers: list[McpServerConfig] = field(default_factory=list)   # the `mcp_servers:` section

    def provider(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.providers if p.name == name), None)

    @property
    def mcp_url(self) -> str | None:
        hf = next((p for p in self.providers if p.kind == "huggingface"), None)
        return hf.options.get("mcp_url") if hf else None

    def masked(self) -> dict[str, Any]:
        """The config as a dict safe to show: shared keys masked."""
        out = {}
        for p in self.providers:
            out[p.name] = {
                "kind": p.kind, "url": p.base_url, "shared key": mask(p.api_key) if p.api_key else "not set",
                "priority": p.priority, "fallback": p.fallback,
                "always_use_this_key": p.always_use_this_key, "models": p.models, "timeout": p.timeout,
                **{k: v for k, v in p.options.items() if k not in {"headers", "models_configured"}},
            }
        return out


# ---------------------------------------------------------------- loading

def find_config_path(env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> Path | None:
    """Lookup order: $AGENTIC_CONFIG, then ./agentic-config.yaml|.yml|.json; None means environment only."""
    env = os.environ if env is None else env
    explicit = env.get("AGENTIC_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("the file named by AGENTIC_CONFIG does not exist", source=str(path))
        return path
    base = Path(cwd or Path.cwd())
    return next((base / name for name in LOOKUP_FILES if (base / name).is_file()), None)


def load_config(source: str | Path | Mapping | None = None, *, env: Mapping[str, str] | None = None,
                cwd: str | Path | None = None) -> AppConfig:
    """Load and validate a config from a path, a dict, or (None) the lookup order."""
    env = dict(os.environ) if env is None else dict(env)
    if isinstance(source, Mapping):
        return _build(dict(source), env, "dict", {})
    path = Path(source) if source is not None else find_config_path(env, cwd)
    if path is None:
        return _from_environment(env)
    raw, lines = _read_file(path)
    return _build(raw, env, str(path), lines)


def _read_file(path: Path) -> tuple[dict, dict[str, int]]:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"the file is larger than {MAX_CONFIG_BYTES // 1024} KiB", source=str(path))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the file ({type(e).__name__})", source=str(path)) from None
    if path.suffix == ".json":
        try:
            raw = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as e:
            raise ConfigError(f"invalid JSON: {e.msg}", source=str(path), line=e.lineno) from None
        except RecursionError:
            raise ConfigError("the JSON is nested too deeply to read; write it out plainly", source=str(path)) from None
        lines: dict[str, int] = {}
    else:
        raw, node = load_yaml(text, source=str(path), max_bytes=MAX_CONFIG_BYTES)
        lines = _line_index(node) if node is not None else {}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a mapping of provider names to settings", source=str(path),
                          line=1)
    return raw, lines


def _line_index(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """Map each key path ("openrouter.url") to its 1-based line in the YAML file."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            out[path] = key_node.start_mark.line + 1
            out.update(_line_index(value_node, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[f"{prefix}[{i}]"] = item.start_mark.line + 1
            out.update(_line_index(item, f"{prefix}[{i}]"))
    return out


def _from_environment(env: Mapping[str, str]) -> AppConfig:
    """No file: Hugging Face and OpenRouter with the environment's shared keys (if any), plus demo."""
    raw = {"huggingface": {}, "openrouter": {}}
    cfg = _build(raw, env, "environment", {})
    return cfg


# ---------------------------------------------------------------- validation

class _Errors:
    """Collects validation problems; raises one ConfigError naming the first and counting the rest."""

    def __init__(self, source: str, lines: dict[str, int]):
        self.source, self.lines, self.items = source, lines, []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        path, message = self.items[0]
        more = ""
        if len(self.items) > 1:
            more = "; also " + "; ".join(f"`{p}`: {m}" for p, m in self.items[1:4])
        raise ConfigError(message + more, source=self.source, line=self.lines.get(path), path=path)


def _interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Replace ${VAR} and ${VAR:-default}; an unset VAR becomes "" (meaning: no shared key)."""
    if isinstance(value, str):
        return _INTERPOLATION.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    return value


def _provider_entries(raw: dict, errors: _Errors) -> list[tuple[str, str, Any]]:
    """(name, key path, settings) for every provider, in file order, from both shapes."""
    entries = []
    for key, value in raw.items():
        key = str(key)
        if key == "providers":
            if value is None:
                continue
            if not isinstance(value, dict):
                errors.add("providers", "must be a mapping of provider names to settings")
                continue
            entries.extend((str(n), f"providers.{n}", v) for n, v in value.items())
        elif key not in RESERVED_SECTIONS:
            entries.append((key, key, value))
    seen: dict[str, str] = {}
    for name, path, _ in entries:
        if name in seen:
            errors.add(path, f"provider `{name}` is defined twice (also at `{seen[name]}`)")
        seen[name] = path
    return entries


def _check_url(url: Any, path: str, errors: _Errors) -> str | None:
    if url in (None, ""):
        return None
    if not isinstance(url, str):
        errors.add(path, f"must be a URL string, got {type(url).__name__}")
        return None
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        errors.add(path, f"must be an http(s) URL, got {url!r}")
        return None
    return url.strip()


def _check_type(settings: dict, key: str, types: tuple, path: str, errors: _Errors, what: str) -> Any:
    value = settings.get(key)
    if value is None:
        return None
    # bool is an int in Python: only accept it where bool is asked for.
    if isinstance(value, bool) and bool not in types:
        errors.add(f"{path}.{key}", f"must be {what}, got a boolean")
        return None
    if not isinstance(value, types):
        errors.add(f"{path}.{key}", f"must be {what}, got {type(value).__name__} {value!r}")
        return None
    return value


def _parse_provider(name: str, path: str, settings: Any, order: int, env: Mapping[str, str],
                    errors: _Errors, warnings: list[str]) -> ProviderConfig | None:
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        errors.add(path, f"provider `{name}` must be a mapping of settings, got {type(settings).__name__}")
        return None
    settings = _interpolate(settings, env)
    kind = kind_for_name(name)
    key = None
    for field_name in ("api_key", "token"):
        value = _check_type(settings, field_name, (str,), path, errors, "a string")
        key = key or (value.strip() if value else None)
    url = None
    for field_name in ("url", "base_url"):
        url = url or _check_url(settings.get(field_name), f"{path}.{field_name}", errors)
    if kind is None:
        if url is None:
            if not any(p in (f"{path}.url", f"{path}.base_url") for p, _ in errors.items):
                errors.add(path, f"provider `{name}` is not a built-in one, so it needs a `url` "
                                 "(an OpenAI-compatible endpoint)")
            return None
        kind = CUSTOM_KIND

    priority_raw = _check_type(settings, "priority", (bool, int), path, errors, "true/false or a rank number")
    priority = None if priority_raw in (None, False) else (0 if priority_raw is True else int(priority_raw))
    fallback = _check_type(settings, "fallback", (bool,), path, errors, "true or false")
    always = _check_type(settings, "always_use_this_key", (bool,), path, errors, "true or false")
    keyless = _check_type(settings, "keyless", (bool,), path, errors, "true or false")
    timeout = _check_type(settings, "timeout", (int, float), path, errors, "a number of seconds")
    if timeout is not None and timeout <= 0:
        errors.add(f"{path}.timeout", "must be a positive number of seconds")
    models = settings.get("models")
    if isinstance(models, str):
        models = [models]
    if models is not None and (not isinstance(models, list) or not all(isinstance(m, str) for m in models)):
        errors.add(f"{path}.models", "must be a model name or a list of model names")
        models = None

    provider_cls = PROVIDER_CLASSES[kind]      # the provider's own facts: URL rules, env key names, models
    url = provider_cls.configured_url(url, path, warnings)
    key = key or next((env[var] for var in provider_cls.env_keys if env.get(var)), None)
    for i, model in enumerate(models or []):
        if problem := provider_cls.model_problem(model, url):
            warnings.append(f"`{path}.models[{i}]`: {problem}")
    options = {"models_configured": bool(models)}
    options.update({k: v for k, v in settings.items() if k not in {
        "api_key", "token", "url", "base_url", "priority", "fallback", "always_use_this_key", "models",
        "timeout", "keyless"}})
    if "mcp_url" in options:
        options["mcp_url"] = _check_url(options["mcp_url"], f"{path}.mcp_url", errors)
    if "referer" in options:
        options["referer"] = _check_url(options["referer"], f"{path}.referer", errors)
    if provider_cls.uses_app_url and (public := app_url(env)):
        options["app_url"] = public
    return ProviderConfig(
        name=name, kind=kind, api_key=key or None, base_url=url, priority=priority,
        fallback=True if fallback is None else fallback, always_use_this_key=bool(always),
        models=list(models) if models else list(provider_cls.default_models),
        timeout=float(timeout) if timeout and timeout > 0 else 60.0, order=order,
        keyless=bool(keyless), options=options,
    )


def app_url(env: Mapping[str, str]) -> str | None:
    """This install's public URL: the Space's own host when hosted (SPACE_HOST, else the Space's page from
    SPACE_ID), or None when it runs elsewhere (a `referer` setting names it then)."""
    host = (env.get("SPACE_HOST") or "").strip().lower()
    if re.fullmatch(r"[a-z0-9][a-z0-9.-]*\.[a-z]{2,}", host):
        return f"https://{host}"
    space = (env.get("SPACE_ID") or "").strip()
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", space):
        return f"https://huggingface.co/spaces/{space}"
    return None


def _router_settings(raw: Any, errors: _Errors) -> RouterSettings:
    settings = RouterSettings()
    if raw is None:
        return settings
    if not isinstance(raw, dict):
        errors.add("router", "must be a mapping of router settings")
        return settings
    for key, value in raw.items():
        if not hasattr(settings, key):
            errors.add(f"router.{key}", f"unknown router setting `{key}`")
            continue
        expected = type(getattr(settings, key))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            errors.add(f"router.{key}", f"must be a non-negative number, got {value!r}")
            continue
        setattr(settings, key, expected(value))
    return settings


def _mcp_servers(raw: Any, env: Mapping[str, str], errors: _Errors) -> list[McpServerConfig]:
    """The `mcp_servers:` section: `{name: {url, token?, timeout?}}` or `{name: {command, args?, env?,
    timeout?}}`, with `${VAR}` read from `env`."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        errors.add("mcp_servers", "must be a mapping of server names to {url, token, timeout} or "
                                  "{command, args, env, timeout}")
        return []
    servers = []
    for name, settings in raw.items():
        path = f"mcp_servers.{name}"
        if not isinstance(name, str) or not _MCP_SERVER_NAME.fullmatch(name):
            errors.add(path, "a server name is a letter then up to 31 letters, digits, '-' or '_' (it prefixes "
                             "the tool names)")
            continue
        if name == HF_MCP_SERVER:
            errors.add(path, f"`{HF_MCP_SERVER}` is the Hugging Face MCP server from `huggingface.mcp_url`; "
                             "pick another name")
            continue
        if not isinstance(settings, dict):
            errors.add(path, "must be a mapping with a `url` (and optionally `token`, `timeout`), or a `command` "
                             "(and optionally `args`, `env`, `timeout`)")
            continue
        unknown = [str(k) for k in settings if k not in _MCP_SERVER_KEYS]
        if unknown:
            errors.add(f"{path}.{unknown[0]}", f"unknown setting `{unknown[0]}`; expected url, token, timeout "
                                               "(HTTP) or command, args, env, timeout (stdio)")
            continue
        settings = _interpolate(settings, env)
        timeout = _check_type(settings, "timeout", (int, float), path, errors, "a number of seconds")
        if timeout is not None and not 0 < timeout <= MCP_MAX_TIMEOUT:
            errors.add(f"{path}.timeout", f"must be a number of seconds between 0 and {MCP_MAX_TIMEOUT:g}")
            continue
        timeout = float(timeout or MCP_DEFAULT_TIMEOUT)
        if "command" in settings:
            server = _stdio_server(name, path, settings, timeout, errors)
            if server is not None:
                servers.append(server)
            continue
        stdio_only = [k for k in ("args", "env") if k in settings]
        if stdio_only:
            errors.add(f"{path}.{stdio_only[0]}", f"`{stdio_only[0]}` goes with a `command` (a stdio server)")
            continue
        url = settings.get("url")
        if url in (None, ""):
            errors.add(path, "needs a `url` (the server's Streamable HTTP MCP endpoint) or a `command` (a local "
                             "server on stdio)")
            continue
        url = _check_url(url, f"{path}.url", errors)
        token = _check_type(settings, "token", (str,), path, errors, 'a string (e.g. "${MY_MCP_TOKEN}")')
        if url is not None:
            servers.append(McpServerConfig(name, url, (token or "").strip() or None, timeout))
    return servers


def _stdio_server(name: str, path: str, settings: dict, timeout: float, errors: _Errors) -> McpServerConfig | None:
    """A local server the SDK starts as a subprocess and talks to over stdin/stdout."""
    http_only = [k for k in ("url", "token") if k in settings]
    if http_only:
        errors.add(f"{path}.{http_only[0]}", f"`{http_only[0]}` is for HTTP servers; a server has either a `url` "
                                             "or a `command`")
        return None
    command = settings.get("command")
    if not isinstance(command, str) or not command.strip():
        errors.add(f"{path}.command", "must be the program to start, e.g. npx or /usr/bin/python3")
        return None
    args = settings.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, (str, int, float)) and not isinstance(a, bool)
                                             for a in args):
        errors.add(f"{path}.args", 'must be a list of strings, e.g. ["-y", "@modelcontextprotocol/server-git"]')
        return None
    extra_env = settings.get("env", {})
    if not isinstance(extra_env, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float))
                                                  and not isinstance(v, bool) for k, v in extra_env.items()):
        errors.add(f"{path}.env", 'must be a mapping of variable names to strings, e.g. {GIT_DIR: "${HOME}/repo"}')
        return None
    return McpServerConfig(name, None, None, timeout, command=command.strip(), args=tuple(str(a) for a in args),
                           env={k: str(v) for k, v in extra_env.items()})


def _build(raw: dict, env: Mapping[str, str], source: str, lines: dict[str, int]) -> AppConfig:
    errors = _Errors(source, lines)
    warnings: list[str] = []
    providers = []
    for order, (name, path, settings) in enumerate(_provider_entries(raw, errors)):
        p = _parse_provider(name, path, settings, order, env, errors, warnings)
        if p is not None:
            providers.append(p)
    router = _router_settings(raw.get("router"), errors)
    mcp_servers = _mcp_servers(raw.get("mcp_servers"), env, errors)
    errors.raise_if_any()
    if not any(p.kind == "demo" for p in providers):
        providers.append(ProviderConfig(name="demo", kind="demo", keyless=True,
                                        models=list(PROVIDER_CLASSES["demo"].default_models), order=len(providers)))
    providers.sort(key=lambda p: (p.priority is None, p.priority or 0, p.order))
    sections = {k: raw[k] for k in RESERVED_SECTIONS - {"providers", "router", "mcp_servers"} if k in raw}
    return AppConfig(providers=providers, router=router, warnings=warnings, source=source, sections=sections,
                     mcp_servers=mcp_servers)
