"""The hosted policy: the one object every service asks what a session may do on a public console.

    policy = HostedPolicy(settings, operator_token=os.environ.get("SPACES_OS_OPERATOR_TOKEN"))
    policy.clamp_rules(rules)            # every rules change goes through it, not only start-up
    policy.is_operator(typed_token)      # the all-sessions view, when hosted

Locally (not hosted) the person at the keyboard owns the console: every session is the operator
and nothing is clamped.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from core.llm.budget import HostedSettings

LOCAL_MAX_MESSAGE_CHARS = 200_000


class HostedPolicy:
    def __init__(self, settings: HostedSettings, operator_token: str | None = None):
        self.settings = settings
        # Only a digest is kept, so the token never sits in memory dumps of the services.
        self._operator = hashlib.sha256(operator_token.encode()).digest() if operator_token else None

    @property
    def hosted(self) -> bool:
        return self.settings.enabled

    def is_operator(self, token: str | None) -> bool:
        """Locally everyone is; hosted, only who types the operator token (when one is configured)."""
        if not self.hosted:
            return True
        if not token or self._operator is None:
            return False
        return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self._operator)

    @property
    def operator_sign_in(self) -> bool:
        """Whether the console offers an operator sign-in (hosted, with a token configured)."""
        return self.hosted and self._operator is not None

    def clamp_rules(self, rules: Any) -> Any:
        """Hosted limits win over whatever the rules file says: tasks per session, and no LLM classifier
        (it would spend the shared key on every visitor's every message)."""
        if self.hosted:
            rules.max_tasks_per_session = min(rules.max_tasks_per_session, self.settings.max_tasks_per_session)
            if rules.llm_classifier.get("enabled"):
                rules.llm_classifier = {**rules.llm_classifier, "enabled": False}
        return rules

    def may_edit_rules(self, operator: bool) -> bool:
        return operator or not self.hosted

    @property
    def max_message_chars(self) -> int:
        return self.settings.max_message_chars if self.hosted else LOCAL_MAX_MESSAGE_CHARS

    @property
    def max_tasks_total(self) -> int | None:
        return self.settings.max_tasks_total if self.hosted else None

    @property
    def max_upload_bytes(self) -> int | None:
        return self.settings.max_upload_bytes if self.hosted else None

    @property
    def preview_allowed(self) -> bool:
        return self.settings.allow_preview or not self.hosted
