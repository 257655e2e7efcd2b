"""VokaFlow: a high-scale task service on Ray, with its state in Redis."""

__version__ = "2.0.0"
