"""{{TITLE}}: sentiment analysis in a Gradio app on a Hugging Face Space.

The model runs on Hugging Face Inference Providers. The token is read from the environment: add a
secret named HF_TOKEN in the Space settings (Settings → Variables and secrets). It is never in the code.
"""

import os

import gradio as gr
from huggingface_hub import InferenceClient

MODEL = {{MODEL_PY}}
PROVIDER = {{PROVIDER_PY}}


def classify(text: str) -> dict[str, float]:
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise gr.Error("Add a secret named HF_TOKEN in the Space settings, then restart the Space.")
    results = InferenceClient(provider=PROVIDER, api_key=token).text_classification(text, model=MODEL)
    return {r.label: r.score for r in results}


demo = gr.Interface(
    fn=classify,
    inputs=gr.Textbox(label="Text to analyse", value="I love how easy this was to build!", lines=4),
    outputs=gr.Label(label="Sentiment"),
    title={{TITLE_PY}},
    description=f"Sentiment analysis with {MODEL} on Inference Providers.",
)

if __name__ == "__main__":
    demo.launch()
