"""{{TITLE}}: a chat app in Gradio on a Hugging Face Space.

The model runs on Hugging Face Inference Providers. The token is read from the environment: add a
secret named HF_TOKEN in the Space settings (Settings → Variables and secrets). It is never in the code.
"""

import os

import gradio as gr
from huggingface_hub import InferenceClient

MODEL = {{MODEL_PY}}
PROVIDER = {{PROVIDER_PY}}
SYSTEM = {{SUMMARY_PY}}


def as_messages(history: list) -> list[dict]:
    """Gradio's chat history as chat messages, whether it comes as dicts or as (user, bot) pairs."""
    out = []
    for turn in history[-20:]:
        if isinstance(turn, dict):
            out.append({"role": turn["role"], "content": turn["content"]})
        else:
            out += [{"role": "user", "content": turn[0]}, {"role": "assistant", "content": turn[1] or ""}]
    return out


def respond(message: str, history: list) -> str:
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise gr.Error("Add a secret named HF_TOKEN in the Space settings, then restart the Space.")
    messages = [{"role": "system", "content": SYSTEM}, *as_messages(history), {"role": "user", "content": message}]
    answer = InferenceClient(provider=PROVIDER, api_key=token).chat_completion(messages, model=MODEL,
                                                                               max_tokens=512)
    return answer.choices[0].message.content or ""


demo = gr.ChatInterface(respond, title={{TITLE_PY}},
                        description=f"Chat with {MODEL} on Inference Providers.")

if __name__ == "__main__":
    demo.launch()
