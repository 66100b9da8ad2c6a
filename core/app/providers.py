"""Providers as one session sees them: its keys, its settings, the status cards and health checks.

    providers = ProviderService(svc)
    problem = providers.set_key(ctx, "huggingface", "sk-or-v1-…")   # refused: an OpenRouter key
    providers.save_settings(ctx, "openrouter", ProviderSettings(enabled=False))
    [card.badge for card in providers.cards(ctx)]

Keys are checked where they are typed: a key whose shape belongs to another provider is refused
with words that say so, and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.app.session import ProviderSettings, SessionContext
from core.app.views.providers import check_health, key_problem, model_catalogue
from core.llm.config import ProviderConfig
from core.llm.keys import mask

if TYPE_CHECKING:
    from core.app.services import Services


@dataclass(frozen=True)
class ProviderCard:
    """One provider's line on Home, Providers and Chat, for this session."""

    name: str
    kind: str
    badge: str                   # e.g. "🟢 ready · your key", "⏸️ switched off in your settings"
    usable: bool                 # this session can send to it now
    shared_key: str | None       # masked
    my_key: str | None           # masked
    keyless: bool
    base_url: str | None
    settings: ProviderSettings

    @property
    def rank(self) -> str:
        """Priority as people count it: 1 is tried first."""
        return "no priority" if self.settings.priority is None else f"priority {self.settings.priority + 1}"


def cooldown_badge(circuit: dict[str, Any]) -> str:
    """A cooling-down provider in words: that it is shared by every session, and what caused it, e.g.
    "🟠 cooling down for everyone (25 s left) after 3 failures in a row, the last: unavailable (HTTP 503)"."""
    cause = f", the last: {circuit['cause']}" if circuit.get("cause") else ""
    return (f"🟠 cooling down for everyone ({circuit.get('cooldown_left_s', 0):.0f} s left) after "
            f"{circuit.get('failures') or circuit.get('threshold') or 'repeated'} failures in a row{cause}. "
            "The cooldown is shared by every session on this server.")


class ProviderService:
    def __init__(self, svc: Services):
        self.svc = svc

    @property
    def configs(self) -> list[ProviderConfig]:
        """The configured providers a session can hold keys and settings for (not the demo)."""
        return [p for p in self.svc.config.providers if p.kind != "demo"] if self.svc.config else []

    def _config(self, name: str) -> ProviderConfig:
        cfg = next((p for p in self.configs if p.name == name), None)
        if cfg is None:
            raise KeyError(f"no provider `{name}` in the config")
        return cfg

    # ------------------------------------------------------------------ keys

    def set_key(self, ctx: SessionContext, name: str, key: str) -> str | None:
        """Keep this session's key for `name`, or return why it is refused (nothing is stored then)."""
        key = (key or "").strip()
        if not key:
            return "The key is empty."
        if any(ch.isspace() for ch in key):
            return "A key has no spaces or line breaks: paste it again."
        self._config(name)
        if problem := key_problem(self.svc.router, name, key):
            return f"Not saved: {problem}."
        ctx.store_key(name, key)
        self._audit(ctx, "key_set", name)
        return None

    def forget_key(self, ctx: SessionContext, name: str) -> None:
        ctx.store_key(name, None)
        self._audit(ctx, "key_cleared", name)

    def forget_all(self, ctx: SessionContext) -> None:
        for name in list(ctx.keys):
            self.forget_key(ctx, name)

    def _audit(self, ctx: SessionContext, kind: str, name: str) -> None:
        """The audit log records that it happened, never the key."""
        self.svc.store.record_audit(kind, session=ctx.session_hash, detail=f"provider {name}")

    # ------------------------------------------------------------------ settings

    def settings(self, ctx: SessionContext, name: str) -> ProviderSettings:
        return ctx.settings(self._config(name))

    def save_settings(self, ctx: SessionContext, name: str, settings: ProviderSettings) -> None:
        """This session's settings for one provider; they reach every request it routes, and no other
        session's."""
        cfg = self._config(name)
        if settings != ctx.settings(cfg):
            ctx.set_settings(name, settings)

    # ------------------------------------------------------------------ status

    def cards(self, ctx: SessionContext) -> list[ProviderCard]:
        """Every configured provider with this session's view of it; the demo card only in demo mode."""
        router = self.svc.router
        keys = ctx.keys
        demo = router.is_demo(keys) if router else True
        statuses = {s.name: s for s in router.status(keys)} if router else {}
        cards = []
        for cfg in self.configs:
            settings = ctx.settings(cfg)
            status = statuses.get(cfg.name)
            circuit = status.circuit if status else {}
            mine = keys.get(cfg.name)
            has_key = bool(mine or cfg.api_key or cfg.keyless)
            if not settings.enabled:
                badge = "⏸️ switched off in your settings"
            elif circuit.get("state") == "open":
                badge = cooldown_badge(circuit)
            elif not has_key:
                badge = "⚪ no key"
            else:
                badge = "🟢 ready · " + ("your key" if mine else "no key needed" if cfg.keyless and not cfg.api_key
                                         else "shared key")
            cards.append(ProviderCard(cfg.name, cfg.kind, badge, settings.enabled and has_key,
                                      mask(cfg.api_key) if cfg.api_key else None, mask(mine) if mine else None,
                                      cfg.keyless, cfg.base_url, settings))
        if demo:
            cards.append(ProviderCard("demo", "demo", "🧪 demo · offline model, no key needed", True, None, None,
                                      True, None, ProviderSettings()))
        return sorted(cards, key=lambda c: (c.settings.priority is None, c.settings.priority or 0))

    def chat_choices(self, ctx: SessionContext) -> dict[str, str]:
        """Providers this session may pin in Chat (switched on; the demo only in demo mode), in this
        session's priority order, each with its label: name, rank, status."""
        return {c.name: c.name if c.kind == "demo" else f"{c.name} · {c.rank} · {c.badge}"
                for c in self.cards(ctx) if c.settings.enabled}

    def health(self, ctx: SessionContext, name: str) -> dict[str, Any]:
        """One real call to the provider with this session's key, else the shared one."""
        return check_health(self.svc.router, name, ctx.keys, ctx.identity)

    def catalogue(self) -> list[dict[str, Any]]:
        return model_catalogue(self.svc.router)
