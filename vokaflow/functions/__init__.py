"""Registered task functions. Importing this package registers the built-ins."""

from vokaflow.functions import (
    analytics,
    audio,
    database,
    drills,
    files,
    ml,
    notifications,
    realtime,
    system,
    vicky,
)
from vokaflow.functions.registry import FunctionRegistry, RegisteredFunction, function, registry

__all__ = [
    "FunctionRegistry",
    "RegisteredFunction",
    "analytics",
    "audio",
    "database",
    "drills",
    "files",
    "function",
    "ml",
    "notifications",
    "realtime",
    "registry",
    "system",
    "vicky",
]
