"""How it works: what the manager does, three scenarios to try, and snippets for the APIs."""

import streamlit as st

from core.app.views import guide

st.title("📖 How it works")
st.markdown(guide.MANAGER)

st.subheader("Try three scenarios")
st.caption("In Chat, one after the other; the third while the second is still running.")
for number, (name, prompt, what) in enumerate(guide.SCENARIOS, start=1):
    with st.container(border=True):
        st.markdown(f"**{number}. {name}**  \n{what}")
        st.code(prompt, language=None)
st.page_link("pages/chat.py", label="Open Chat", icon="💬")

st.subheader("Use it from code")
python, mcp, http = st.tabs(["Python API", "MCP server", "HTTP API"])
with python:
    st.caption("From the project folder (offline in demo mode when no key is set):")
    st.code(guide.PYTHON_SNIPPET, language="python")
with mcp:
    st.caption("An MCP client (Claude Desktop, Cursor, …) starts the server over stdio with this config:")
    st.code(guide.MCP_CONFIG, language="json")
    st.caption("Or serve it over HTTP:")
    st.code(guide.MCP_HTTP, language="bash")
    st.caption("Tools that change a Space refuse to run unless the server was started with `--allow-mutations`.")
with http:
    st.info(guide.HTTP_API_STATUS, icon="🚧")
