"""{{TITLE}}: sentiment analysis in a Streamlit app on a Hugging Face Docker Space.

The model runs on Hugging Face Inference Providers. The token is read from the environment: add a
secret named HF_TOKEN in the Space settings (Settings → Variables and secrets). It is never in the code.
"""

import os

import streamlit as st
from huggingface_hub import InferenceClient

MODEL = {{MODEL_PY}}
PROVIDER = {{PROVIDER_PY}}

st.set_page_config(page_title={{TITLE_PY}}, page_icon="💬")
st.title({{TITLE_PY}})
st.caption(f"Sentiment analysis with [{MODEL}](https://huggingface.co/{MODEL}) on Inference Providers.")

token = os.environ.get("HF_TOKEN")
if not token:
    st.info("Add a secret named HF_TOKEN (a token allowed to call Inference Providers) in the Space "
            "settings, then restart the Space.")
    st.stop()


@st.cache_resource
def inference_client(api_key: str) -> InferenceClient:
    return InferenceClient(provider=PROVIDER, api_key=api_key)


text = st.text_area("Text to analyse", "I love how easy this was to build!", max_chars=2000)
if st.button("Analyse", type="primary") and text.strip():
    try:
        with st.spinner("Asking the model…"):
            results = inference_client(token).text_classification(text, model=MODEL)
    except Exception as err:  # show the provider's answer instead of a traceback
        st.error(f"The model could not answer: {err}")
    else:
        top = max(results, key=lambda r: r.score)
        st.metric("Sentiment", top.label, f"{top.score:.0%} confident", delta_color="off")
        st.dataframe([{"label": r.label, "score": round(r.score, 3)} for r in results], hide_index=True)
