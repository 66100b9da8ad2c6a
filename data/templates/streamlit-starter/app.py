"""{{TITLE}}: a starter Streamlit app on a Hugging Face Docker Space.

None of the build agent's tested templates fitted the idea, so this page only shows the plan. Write the
app here; list every package it imports in requirements.txt (the Space installs nothing else).
"""

import streamlit as st

st.set_page_config(page_title={{TITLE_PY}}, page_icon="🧩")
st.title({{TITLE_PY}})
st.write({{SUMMARY_PY}})
st.info("This is a starting point: no tested template fitted this idea, so the app itself is still to be "
        "written in app.py.")
