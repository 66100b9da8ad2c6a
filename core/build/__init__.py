"""Build a Space from a one-line idea: the workflow steps, the agent, file bundles and the local preview."""
