"""Registered task functions. Importing this package registers the built-ins."""

from vokaflow.functions import analytics, system, vicky
from vokaflow.functions.registry import FunctionRegistry, RegisteredFunction, function, registry

__all__ = [
    "FunctionRegistry",
    "RegisteredFunction",
    "analytics",
    "function",
    "registry",
    "system",
    "vicky",
]
