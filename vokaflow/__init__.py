"""VokaFlow: a high-scale task service on Ray, with its state in Redis."""

__version__ = "2.0.0"


def report_progress(fraction: float | None = None, **details: object) -> None:
    """From inside a task function: how far it has got (0..1), and JSON details; the task's
    status shows it as `progress`. A no-op outside a task."""
    from vokaflow.workers.context import report_progress as report

    report(fraction, **details)
