"""{{TITLE}}: a chat app in Streamlit on a Hugging Face Docker Space.

The model runs on Hugging Face Inference Providers. The token is read from the environment: add a
secret named HF_TOKEN in the Space settings (Settings → Variables and secrets). It is never in the code.
"""

import os

import streamlit as st
from huggingface_hub import InferenceClient

MODEL = {{MODEL_PY}}
PROVIDER = {{PROVIDER_PY}}
SYSTEM = {{SUMMARY_PY}}

st.set_page_config(page_title={{TITLE_PY}}, page_icon="🤖")
st.title({{TITLE_PY}})
st.caption(f"Chat with [{MODEL}](https://huggingface.co/{MODEL}) on Inference Providers.")

token = os.environ.get("HF_TOKEN")
if not token:
    st.info("Add a secret named HF_TOKEN (a token allowed to call Inference Providers) in the Space "
            "settings, then restart the Space.")
    st.stop()


@st.cache_resource
def inference_client(api_key: str) -> InferenceClient:
    return InferenceClient(provider=PROVIDER, api_key=api_key)


if "messages" not in st.session_state:
    st.session_state.messages = []

for message in st.session_state.messages:
    st.chat_message(message["role"]).write(message["content"])

if prompt := st.chat_input("Say something"):
    st.session_state.messages.append({"role": "user", "content": prompt})
    st.chat_message("user").write(prompt)
    history = [{"role": "system", "content": SYSTEM}, *st.session_state.messages[-20:]]
    try:
        with st.spinner("Thinking…"):
            answer = inference_client(token).chat_completion(history, model=MODEL, max_tokens=512)
        reply = answer.choices[0].message.content or ""
    except Exception as err:  # show the provider's answer instead of a traceback
        st.error(f"The model could not answer: {err}")
    else:
        st.session_state.messages.append({"role": "assistant", "content": reply})
        st.chat_message("assistant").write(reply)
