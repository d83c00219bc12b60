"""`profiler record` (placeholder until the tracer lands)."""


def register(app):
    pass
