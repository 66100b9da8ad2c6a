"""The Hugging Face Hub: search, Space lifecycle and the readable errors of Hub calls."""
