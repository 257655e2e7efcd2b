"""VokaFlow: a high-scale task service on Ray, with its state in Redis."""

__version__ = "2.0.0"


def report_progress(fraction: float | None = None, **details: object) -> None:
    """From inside a task function: how far it has got (0..1), and JSON details; the task's
    status shows it as `progress`. A no-op outside a task."""
    # imported on first use, so that `import vokaflow` stays light (see __getattr__)
    from vokaflow.functions.context import report_progress as report

    report(fraction, **details)


def __getattr__(name: str) -> object:
    """``from vokaflow import function``: the decorator for the user's own functions
    (imported on first use, so that ``import vokaflow`` stays light)."""
    if name == "function":
        from vokaflow.functions.registry import function

        return function
    raise AttributeError(f"module 'vokaflow' has no attribute {name!r}")
