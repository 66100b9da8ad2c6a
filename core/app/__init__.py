"""The application layer: the session context, the services built once by the composition root, page
views and Streamlit widgets. The only layer that imports Streamlit."""
