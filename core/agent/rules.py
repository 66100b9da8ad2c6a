"""Routing rules (data/routing.yaml): label → model tiers per provider, and the interruption policy.

    rules = load_rules()                                  # validated, or RulesError naming the key path
    rules.models_for("COMPLEX", router.config.providers)  # {"openrouter": "anthropic/claude-sonnet-4", ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.llm.config import ProviderConfig
from core.llm.yaml_loader import load_yaml

RULES_FILE = Path(__file__).resolve().parents[2] / "data" / "routing.yaml"
LABELS = ("QUICK", "COMPLEX", "URGENT")
POLICIES = ("interrupt", "queue", "parallel")
MAX_RULES_BYTES = 64 * 1024


class RulesError(ConfigError):
    """routing.yaml is invalid; the message names the key path."""


@dataclass
class LabelRule:
    tiers: list[str]
    fastest_provider: bool = False


@dataclass
class RoutingRules:
    tiers: dict[str, dict[str, list[str]]]
    labels: dict[str, LabelRule]
    interruption: str = "interrupt"
    workers: int = 2
    max_tasks_per_session: int = 5
    llm_classifier: dict[str, Any] = field(default_factory=lambda: {"enabled": False, "timeout": 3})

    def models_for(self, label: str, providers: list[ProviderConfig]) -> dict[str, str]:
        """The model each provider should use for `label`: the first tier model it offers, else its own default."""
        rule = self.labels.get(label) or self.labels["QUICK"]
        chosen: dict[str, str] = {}
        for p in providers:
            if p.options.get("models_configured") and len(p.models) == 1:
                chosen[p.name] = p.models[0]        # one named model serves every tier
                continue
            model = None
            for tier in rule.tiers:
                offered = self.tiers.get(tier, {})
                names = offered.get(p.name) or offered.get(p.kind) or []
                explicit = p.options.get("models_configured")
                model = next((m for m in names if not explicit or m in p.models), None)
                if model:
                    break
            if model or p.default_model:
                chosen[p.name] = model or p.default_model
        return chosen

    def tier_of(self, label: str) -> str:
        rule = self.labels.get(label)
        return rule.tiers[0] if rule and rule.tiers else "fast"


def _fail(path: str, message: str, source: str) -> RulesError:
    return RulesError(message, source=source, path=path)


def parse_rules(raw: Any, source: str = "routing.yaml") -> RoutingRules:
    """Validate a parsed routing.yaml."""
    if not isinstance(raw, dict):
        raise _fail("(top)", "must be a mapping with `tiers` and `labels`", source)
    tiers = raw.get("tiers")
    if not isinstance(tiers, dict) or not tiers:
        raise _fail("tiers", "must map tier names to {provider: [models]}", source)
    clean_tiers: dict[str, dict[str, list[str]]] = {}
    for tier, per_provider in tiers.items():
        if not isinstance(per_provider, dict):
            raise _fail(f"tiers.{tier}", "must map provider names to lists of models", source)
        clean_tiers[str(tier)] = {}
        for provider, models in per_provider.items():
            if isinstance(models, str):
                models = [models]
            if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
                raise _fail(f"tiers.{tier}.{provider}", "must be a model name or a list of model names", source)
            clean_tiers[str(tier)][str(provider)] = models
    labels = raw.get("labels")
    if not isinstance(labels, dict):
        raise _fail("labels", f"must map each of {', '.join(LABELS)} to its tiers", source)
    clean_labels = {}
    for label in LABELS:
        rule = labels.get(label)
        if not isinstance(rule, dict) or not isinstance(rule.get("tiers"), list) or not rule["tiers"]:
            raise _fail(f"labels.{label}.tiers", "must be a non-empty list of tier names", source)
        unknown = [t for t in rule["tiers"] if t not in clean_tiers]
        if unknown:
            raise _fail(f"labels.{label}.tiers", f"names unknown tier(s) {unknown}; known: {list(clean_tiers)}",
                        source)
        clean_labels[label] = LabelRule([str(t) for t in rule["tiers"]], bool(rule.get("fastest_provider", False)))
    extra = set(labels) - set(LABELS)
    if extra:
        raise _fail(f"labels.{sorted(extra)[0]}", f"unknown label; labels are {', '.join(LABELS)}", source)
    policy = raw.get("interruption", "interrupt")
    if policy not in POLICIES:
        raise _fail("interruption", f"must be one of {', '.join(POLICIES)}, got {policy!r}", source)
    numbers = {}
    for key, default, low, high in (("workers", 2, 1, 16), ("max_tasks_per_session", 5, 1, 100)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(key, f"must be a whole number from {low} to {high}, got {value!r}", source)
        numbers[key] = value
    llm = raw.get("llm_classifier") or {}
    if not isinstance(llm, dict) or not isinstance(llm.get("enabled", False), bool):
        raise _fail("llm_classifier", "must be {enabled: true|false, timeout: seconds}", source)
    timeout = llm.get("timeout", 3)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise _fail("llm_classifier.timeout", "must be a positive number of seconds", source)
    return RoutingRules(clean_tiers, clean_labels, policy, numbers["workers"], numbers["max_tasks_per_session"],
                        {"enabled": llm.get("enabled", False), "timeout": float(timeout)})


def parse_rules_text(text: str, source: str = "routing.yaml") -> RoutingRules:
    """Parse and validate routing rules text (bounded: size, depth and aliases, see `core.llm.yaml_loader`)."""
    raw, _ = load_yaml(text, source=source, error=RulesError, max_bytes=MAX_RULES_BYTES)
    return parse_rules(raw, source)


def load_rules(path: str | Path = RULES_FILE) -> RoutingRules:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise RulesError(f"cannot read the file ({type(e).__name__})", source=str(path)) from None
    return parse_rules_text(text, str(path))


def save_rules_text(text: str, path: str | Path = RULES_FILE) -> RoutingRules:
    """Validate, then write atomically: a bad edit never replaces a good file."""
    rules = parse_rules_text(text, str(path))
    path = Path(path)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return rules
