"""Talking to language models: config, keys, prices, budgets, circuit breakers, the SSRF guard, the
providers and the router that plans, retries and records every attempt."""
