"""The function registry: ``@function(...)`` makes a callable submittable by name."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vokaflow.domain import CATEGORIES, CATEGORY_NAME, WorkerType
from vokaflow.errors import FunctionNotRegistered
from vokaflow.functions.arguments import ArgumentSpec, Check

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RegisteredFunction:
    name: str
    category: str
    worker_type: WorkerType
    description: str
    parameters: list[str]
    estimated_duration: str
    call: Callable[..., Any] = field(compare=False)
    arguments: ArgumentSpec = field(compare=False, repr=False)
    listed: bool = True  # drills are submittable but left out of /functions
    admin_only: bool = False  # reaches every tenant's data: only admin keys may submit it

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function; an async one runs to completion on an event loop of its own."""
        result = self.call(*args, **kwargs)
        if inspect.isawaitable(result):
            return asyncio.run(_awaited(result))
        return result

    def validated(
        self, args: list[Any], kwargs: dict[str, Any], context: dict[str, Any] | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        """The arguments checked against the declared parameters and converted; raises
        ArgumentError naming the field."""
        return self.arguments.validate(args, kwargs, context)


class FunctionRegistry:
    """Functions by name; ``category.name`` is accepted as an alias of ``name``."""

    def __init__(self) -> None:
        self._by_name: dict[str, RegisteredFunction] = {}
        self._category_names = set(CATEGORIES)

    def register(self, entry: RegisteredFunction) -> None:
        if not CATEGORY_NAME.fullmatch(entry.category):
            raise ValueError(
                f"bad category {entry.category!r}: a lowercase word such as "
                f"{', '.join(CATEGORIES[:3])} or one of your own"
            )
        existing = self._by_name.get(entry.name)
        if existing is not None and existing.call is not entry.call:
            raise ValueError(f"function {entry.name!r} is already registered")
        self._by_name[entry.name] = entry
        self._category_names.add(entry.category)

    def find(self, name: str) -> RegisteredFunction | None:
        entry = self._by_name.get(name)
        if entry is None and "." in name:
            category, _, bare = name.partition(".")
            entry = self._by_name.get(bare)
            if entry is not None and entry.category != category:
                entry = None
        return entry

    def get(self, name: str) -> RegisteredFunction:
        entry = self.find(name)
        if entry is None:
            raise FunctionNotRegistered(name)
        return entry

    def all(self) -> list[RegisteredFunction]:
        return sorted(self._by_name.values(), key=lambda e: (e.category, e.name))

    def listed(self) -> list[RegisteredFunction]:
        """What /functions shows: the catalog and the user's own, without the drills."""
        return [entry for entry in self.all() if entry.listed]

    def categories(self) -> list[str]:
        """The built-in categories, then those that only the user's functions use."""
        own = sorted(self._category_names - set(CATEGORIES))
        return [*CATEGORIES, *own]


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


registry = FunctionRegistry()


def function(
    *,
    category: str,
    worker_type: WorkerType = WorkerType.GENERAL_PURPOSE,
    description: str,
    estimated_duration: str,
    name: str | None = None,
    parameters: list[str] | None = None,
    target: FunctionRegistry | None = None,
    listed: bool = True,
    check: Check | None = None,
    admin_only: bool = False,
) -> Callable[[F], F]:
    """Register the decorated callable; parameters default to its signature's names."""

    def decorate(func: F) -> F:
        (target or registry).register(
            RegisteredFunction(
                name=name or func.__name__,
                category=category,
                worker_type=worker_type,
                description=description,
                parameters=parameters
                if parameters is not None
                else list(inspect.signature(func).parameters),
                estimated_duration=estimated_duration,
                call=func,
                arguments=ArgumentSpec(func, check),
                listed=listed,
                admin_only=admin_only,
            )
        )
        return func

    return decorate
