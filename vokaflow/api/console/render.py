"""Turning a page's values into HTML: one Jinja environment with autoescaping, and the
small formatters the templates share."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from vokaflow.api.console.session import ConsoleUser

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def _when(value: float | str | None) -> str:
    """An ISO time as the API gives it, or epoch seconds, as a short UTC time."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value.replace("T", " ").removesuffix("Z").split("+")[0][:23] + " UTC"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))


def _as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _seconds(value: float | None) -> str:
    """A duration in the unit a reader expects: 100 ms, 2.5 s, 5 min, 2 h."""
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.3g} s"
    if value < 3600:
        return f"{value / 60:.3g} min"
    return f"{value / 3600:.3g} h"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["when"] = _when
environment.filters["as_json"] = _as_json
environment.filters["seconds"] = _seconds


def console_base(request: Request) -> str:
    """Where the console is mounted (/console): what its links and redirects begin with."""
    return str(request.scope.get("root_path", ""))


def redirect_to(request: Request, path: str) -> RedirectResponse:
    """A 303 to ``path`` within the console: after an action, the page that shows it."""
    return RedirectResponse(console_base(request) + path, status_code=303)


def page(
    request: Request,
    template: str,
    user: ConsoleUser | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    html = environment.get_template(template).render(
        request=request,
        user=user,
        base=console_base(request) or "/console",
        **values,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


# Scripts, styles and fonts come from this origin only: the console works offline, and an
# injected script from elsewhere would not run.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
