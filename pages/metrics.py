"""Placeholder until its issue lands."""

import streamlit as st

from core.widgets import require_services

require_services()
st.title("Metrics")
st.info("This page is being built.")
