"""Spaces OS core, in layers that only point down:

    app  ->  tools | build | agent | demo  ->  hub  ->  llm  ->  store

`core.errors` is the shared error tree every layer may raise. `core.router.Router` and
`core.manager.Manager` are the stable entry points for scripts (see the README).
"""
