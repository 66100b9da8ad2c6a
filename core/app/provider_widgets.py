"""Streamlit pieces of the Providers page: one provider's card with its key input and this session's
settings. The widget callbacks go through `ProviderService`, so a key is checked before it is kept."""

from __future__ import annotations

import streamlit as st

from core.app.providers import ProviderCard
from core.app.services import Services
from core.app.session import ProviderSettings, SessionContext
from core.app.views.providers import breaker_scope_note


def provider_card(svc: Services, ctx: SessionContext, card: ProviderCard) -> None:
    ss = st.session_state
    name, settings = card.name, card.settings

    def save_key() -> None:
        """Copy the password widget into the session's key ring (or keep why it was refused), then empty it."""
        ss[f"key_problem_{name}"] = svc.providers.set_key(ctx, name, ss.get(f"key_input_{name}") or "")
        ss[f"key_input_{name}"] = ""

    def save_settings() -> None:
        rank = ss[f"priority_{name}"]
        svc.providers.save_settings(ctx, name, ProviderSettings(
            enabled=ss[f"enabled_{name}"], priority=None if rank == 0 else rank - 1,
            fallback=ss[f"fallback_{name}"], always_use_this_key=ss[f"always_{name}"]))

    with st.container(border=True):
        top = st.columns([3, 2])
        top[0].markdown(f"### {name}  \n`{card.kind.replace('_', '-')}` · {card.base_url or 'default endpoint'}"
                        f"  \n{card.badge}")
        top[1].markdown(f"**Your key:** `{card.my_key}`" if card.my_key else "**Your key:** not set")
        top[1].markdown("**Shared key:** " + (f"set (`{card.shared_key}`)" if card.shared_key else
                                              "not needed" if card.keyless else "none"))
        if not (card.keyless and not card.shared_key) or card.my_key:
            st.text_input(f"Your {name} key", type="password", key=f"key_input_{name}", on_change=save_key,
                          placeholder="paste and press Enter", help="Held in this session only.")
        if problem := ss.get(f"key_problem_{name}"):
            st.error(problem, icon="🚫")
        if card.my_key and st.button("Forget my key", key=f"forget_{name}"):
            svc.providers.forget_key(ctx, name)
            st.rerun()

        c1, c2, c3, c4 = st.columns(4)
        c1.toggle("Use this provider", value=settings.enabled, key=f"enabled_{name}", on_change=save_settings)
        c2.number_input("Priority (1 = first, 0 = none)", min_value=0, max_value=99,
                        value=0 if settings.priority is None else settings.priority + 1, key=f"priority_{name}",
                        on_change=save_settings)
        c3.toggle("May serve as fallback", value=settings.fallback, key=f"fallback_{name}", on_change=save_settings)
        c4.toggle("Always use my key", value=settings.always_use_this_key, key=f"always_{name}",
                  on_change=save_settings,
                  help="Never fall back to the shared key for this provider, even if yours fails.")

        if st.button("Check health", key=f"health_{name}"):
            with st.spinner(f"Calling {name}…"):
                health = svc.providers.health(ctx, name)
            if health["ok"]:
                st.success(f"Healthy · {health['latency_ms']:.0f} ms · with the {health['key_source']} key")
            else:
                st.error(f"{health['kind'] or 'error'} · {health['latency_ms']:.0f} ms · {health['message']}")


def breaker_scope_caption(svc: Services) -> None:
    """Says that cooldowns are per process, when the console may run as several replicas."""
    if note := breaker_scope_note(svc.store.dialect):
        st.caption(note)
