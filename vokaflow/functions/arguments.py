"""Each function's signature as a pydantic model: submit checks ``args``/``kwargs`` against
it and answers 400 naming the field; the worker checks again and calls the function with
the validated (converted) values. Unannotated parameters accept any JSON value."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


class ArgumentError(ValueError):
    """``field`` names the argument as the caller wrote it: ``args[0]``, ``kwargs.table``,
    ``kwargs.data[2].name``, or ``args`` when they cannot bind at all."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ArgumentConflict(ValueError):
    """Raised by a function's ``check`` when arguments are fine alone but not together;
    ``parameter`` names the one to point at."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class _Bound:
    signature: inspect.Signature
    model: type[BaseModel] | None
    aliases: dict[str, str]  # parameter name -> model field name


class ArgumentSpec:
    """``check``, when given, sees every parameter's validated value (defaults included) and
    raises ArgumentConflict for combinations that cannot work, such as two exclusive sources."""

    def __init__(self, func: Callable[..., Any], check: Check | None = None) -> None:
        self._func = func
        self._check = check
        self._bound: _Bound | None = None

    @property
    def _spec(self) -> _Bound:
        # Built on first use: type hints may name things defined after the decorator ran.
        if self._bound is None:
            self._bound = _build(self._func)
        return self._bound

    def validate(
        self, args: list[Any], kwargs: dict[str, Any], context: dict[str, Any] | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        spec = self._spec
        try:
            bound = spec.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ArgumentError("args", str(exc)) from None
        if spec.model is None:
            return list(args), dict(kwargs)
        named = {name: value for name, value in bound.arguments.items() if name in spec.aliases}
        try:
            checked = spec.model.model_validate(named, context=context)
        except ValidationError as exc:
            raise _first_problem(exc, spec, args, kwargs) from None
        if self._check is not None:
            try:
                self._check({name: getattr(checked, alias) for name, alias in spec.aliases.items()})
            except ArgumentConflict as conflict:
                field = _field_name(spec, conflict.parameter, args, kwargs)
                raise ArgumentError(field, str(conflict)) from None
        converted = {name: getattr(checked, spec.aliases[name]) for name in named}
        positional = list(spec.signature.parameters)
        out_args = [
            converted.get(positional[i], value) if i < len(positional) else value
            for i, value in enumerate(args)
        ]
        return out_args, {name: converted.get(name, value) for name, value in kwargs.items()}


def _build(func: Callable[..., Any]) -> _Bound:
    signature = inspect.signature(func)
    hints = typing.get_type_hints(func, include_extras=True)
    fields: dict[str, Any] = {}
    aliases: dict[str, str] = {}
    for index, (name, parameter) in enumerate(signature.parameters.items()):
        if parameter.kind in _VARIADIC:
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        # Field names of our own: a parameter may be called `json` or `model_config`.
        field_name = f"p{index}"
        aliases[name] = field_name
        fields[field_name] = (hints.get(name, Any), Field(default, validation_alias=name))
    if not fields:
        return _Bound(signature, None, aliases)
    model = create_model(
        f"{getattr(func, '__name__', 'function')}_arguments",
        __config__=ConfigDict(arbitrary_types_allowed=True, protected_namespaces=()),
        **fields,
    )
    return _Bound(signature, model, aliases)


def _first_problem(
    exc: ValidationError, spec: _Bound, args: list[Any], kwargs: dict[str, Any]
) -> ArgumentError:
    error = exc.errors(include_url=False)[0]
    name, *rest = error["loc"]
    # a checked default is reported under the model's own field name, not the parameter's
    name = {field: parameter for parameter, field in spec.aliases.items()}.get(str(name), name)
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest)
    message = str(error["msg"]).removeprefix("Value error, ")
    return ArgumentError(_field_name(spec, str(name), args, kwargs) + path, message)


def _field_name(spec: _Bound, name: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    """The parameter as the caller sent it: ``args[i]`` when positional, else ``kwargs.x``."""
    position = list(spec.signature.parameters).index(name)
    return f"kwargs.{name}" if name in kwargs or position >= len(args) else f"args[{position}]"
