"""The manager agent: classify a request, pick a tier from the routing rules, keep the task queue,
interrupt, checkpoint and resume."""
