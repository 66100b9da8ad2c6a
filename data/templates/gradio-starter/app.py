"""{{TITLE}}: a starter Gradio app on a Hugging Face Space.

None of the build agent's tested templates fitted the idea, so this page only shows the plan. Write the
app here; list every package it imports besides Gradio in requirements.txt.
"""

import gradio as gr

with gr.Blocks(title={{TITLE_PY}}) as demo:
    gr.Markdown("# " + {{TITLE_PY}} + "\n\n" + {{SUMMARY_PY}})
    gr.Markdown("This is a starting point: no tested template fitted this idea, so the app itself is still "
                "to be written in app.py.")

if __name__ == "__main__":
    demo.launch()
