"""The routing rules as the Routing page edits them: read the file, validate and save, apply at once.

    rules = RulesService(svc)
    rules.editable(ctx)                    # False for a hosted visitor: the file is everyone's
    rules.save(ctx, edited_text)           # raises RulesError (not saved) or ReadOnlyRules

The rules file is global state, so only the operator changes it (locally, every session is the
operator). Hosted limits (tasks per session) still clamp whatever is saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.agent.rules import RoutingRules, RulesError, save_rules_text
from core.app.session import SessionContext
from core.errors import SpacesOSError

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
