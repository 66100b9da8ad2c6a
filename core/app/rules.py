"""The routing rules as the Routing page edits them: read the file, validate and save, apply at once.

    rules = RulesService(svc)
    rules.editable(ctx)                    # False for a hosted visitor: the file is everyone's
    rules.save(ctx, edited_text)           # raises RulesError (not saved) or ReadOnlyRules
    rules.unknown_models(edited_text)      # ["`tiers.fast.openrouter`: no provider offers `gpt-4o-mni`…"]

The rules file is global state, so only the operator changes it (locally, every session is the
operator). Hosted limits (tasks per session) still clamp whatever is saved.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from core.agent.rules import RoutingRules, RulesError, parse_rules_text, save_rules_text
from core.app.session import SessionContext
from core.errors import SpacesOSError
from core.llm.prices import load_prices

if TYPE_CHECKING:
    from core.app.services import Services

MAX_RULES_BYTES = 64_000


class ReadOnlyRules(SpacesOSError):
    """A visitor tried to change the rules every visitor shares."""


class RulesService:
    def __init__(self, svc: Services):
        self.svc = svc

    @property
    def path(self) -> Path:
        return Path(self.svc.rules_path)

    def text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError:
            return ""

    def catalogue(self) -> dict[str, list[str]]:
        """The model names each provider offers, as the Providers page's catalogue lists them."""
        return {p.name: list(p.config.models) for p in self.svc.router.providers.values()}

    def unknown_models(self, text: str) -> list[str]:
        """A warning per model name in `text` (routing rules) that no provider offers (not in the catalogue
        nor in the price table of the models Spaces OS routes to by default), naming the catalogue's closest
        names and the provider's own; [] when every name is known or the text is not valid rules."""
        try:
            rules = parse_rules_text(text, source=self.path.name)
        except RulesError:
            return []           # saving says why
        catalogue = self.catalogue()
        kinds = {p.config.kind: p.name for p in self.svc.router.providers.values()}
        offered = sorted({m for names in catalogue.values() for m in names} | set(load_prices()))
        warnings = []
        for tier, by_provider in rules.tiers.items():
            for provider, models in by_provider.items():
                own = catalogue.get(provider) or catalogue.get(kinds.get(provider, "")) or []
                for model in models:
                    if model.split(":", 1)[0] in offered:      # "org/m:fastest" is org/m with a routing policy
                        continue
                    close = difflib.get_close_matches(model, list(dict.fromkeys([*own, *offered])), n=3, cutoff=0.6)
                    hint = f" Did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""
                    listed = f" {provider} offers {', '.join(f'`{n}`' for n in own)}." if own else ""
                    warnings.append(f"`tiers.{tier}.{provider}`: no provider offers `{model}`.{hint}{listed}")
        return warnings

    def editable(self, ctx: SessionContext) -> bool:
        return self.svc.policy.may_edit_rules(ctx.operator)

    def save(self, ctx: SessionContext, text: str) -> RoutingRules:
        """Validate, write atomically and apply; a bad edit never replaces the file."""
        from core.app.services import apply_rules

        if not self.editable(ctx):
            raise ReadOnlyRules("The routing rules are shared by every visitor of this console, so they are "
                                "read-only here. Run your own copy to change them.")
        if len(text.encode("utf-8")) > MAX_RULES_BYTES:
            raise RulesError(f"the rules are {len(text.encode()):,} bytes; the limit is {MAX_RULES_BYTES:,}",
                             source=self.path.name)
        rules = save_rules_text(text, self.path)
        apply_rules(self.svc, rules)
        return self.svc.manager.rules if self.svc.manager else rules
