"""``database`` functions: bulk inserts, read-only queries and table exports on SQLAlchemy
databases.

A task names a database, never a URL: ``default`` (VOKAFLOW_DATABASE_URL, or SQLite at
``<first data root>/vokaflow.db``) or a key of VOKAFLOW_DATABASES. An unknown name is
refused at submit, so task arguments cannot point a worker at an arbitrary server.

``complex_query`` is read-only because the database says so, not because the text looks
harmless. On SQLite the connection has ``PRAGMA query_only`` and an authorizer that allows
reading only (query_only alone still lets ``ATTACH`` and ``VACUUM INTO`` create files). On
PostgreSQL the statement runs in a ``READ ONLY`` transaction that is always rolled back,
through the extended protocol (so the server refuses a string that holds several
statements), and only as a role that such a transaction confines: queries and exports are
refused, with the statements that fix the role, for a superuser, a role with REPLICATION
(its replication slots outlive the transaction), a member of SERVER_ACCESS_ROLES, or a role
that may execute any of SIDE_EFFECT_FUNCTIONS. What a rollback undoes needs no check
(``set_config``, ``pg_notify``, which sends only on commit). Each task has its own
session, closed at its end, so nothing a statement leaves in a session (a session lock, a
prepared statement) reaches another task. Other databases are refused for queries and
exports.

Queries and exports are bounded, so that no statement holds a worker or its memory:

- time, VOKAFLOW_QUERY_TIMEOUT_S: PostgreSQL's statement_timeout ends each statement (each
  FETCH of an export); on SQLite a progress handler ends the statement (each chunk of an
  export) at the deadline.
- bytes, VOKAFLOW_QUERY_MAX_BYTES: the worker takes rows one at a time and fails a query
  once its rows hold more (an export writes a chunk out at that size), and no single row
  over it reaches the worker. PostgreSQL runs the statement as a subquery that measures
  each row before sending it (see ``measured``), in libpq's single-row mode, so a
  statement there must be one that can be a subquery (SELECT, WITH, VALUES, TABLE):
  EXPLAIN and SHOW are refused, as their output has no such bound (EXPLAIN VERBOSE prints
  constants folded, ``repeat('x', 10^9)`` included). SQLite refuses any value over the
  bound (SQLITE_LIMIT_LENGTH), and its heap in a worker process is capped
  (``hard_heap_limit``), which bounds a row of many values.

Each process keeps one engine per URL, and one read-only engine per URL (on PostgreSQL
without a pool).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import functools
import hashlib
import itertools
import json
import logging
import math
import os
import re
import sqlite3
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
)

from vokaflow.config import SQLITE_FILE
from vokaflow.domain import WorkerType
from vokaflow.functions.context import TaskContext, current_settings, current_task, report_progress
from vokaflow.functions.data_roots import OutputPath, confine, current_roots
from vokaflow.functions.registry import function

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, CursorResult, Engine
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.types import TypeEngine

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
MAX_ROWS_PER_INSERT = 100_000
MAX_QUERY_ROWS = 100_000
EXPORT_CHUNK_ROWS = 10_000
SQLITE_BUSY_TIMEOUT_S = 30.0
SERVICE_TABLE_PREFIX = "vokaflow_"  # bulk_insert's ledger, AppliedTasks
ENGINES_KEPT = 64  # per process; each principal's SQLite file has its own engine
READ_ONLY_QUERIES = "SQLite and PostgreSQL (postgresql+psycopg)"
# A value costs a worker more than its text: this much is counted for each besides it.
ROW_VALUE_BYTES = 16
# SQLite's heap in a worker process may grow to twice VOKAFLOW_QUERY_MAX_BYTES, and to at
# least this: the page caches and sorts of all SQLite connections in the process share it.
SQLITE_HEAP_FLOOR = 512 * 1024 * 1024
SQLITE_CLOCK_STEPS = 1000  # virtual machine steps between two looks at the deadline

log = logging.getLogger(__name__)

ExportFormat = Literal["csv", "parquet"]
ColumnKind = Literal["integer", "float", "boolean", "text"]


# --- argument types -------------------------------------------------------------------


def is_identifier(name: str) -> bool:
    """A plain SQL name: a letter or _, then letters, digits or _, at most 63 in all."""
    return IDENTIFIER.fullmatch(name) is not None


def _identifier(name: str) -> str:
    if not is_identifier(name):
        raise ValueError(
            f"{name!r} is not a plain SQL name: a letter or _, then letters, digits or _ "
            "(at most 63 characters)"
        )
    return name


def _known_database(name: str, info: ValidationInfo) -> str:
    context: dict[str, list[str]] = info.context if isinstance(info.context, dict) else {}
    configured = context.get("configured_databases") or current_settings().database_names()
    usable = context.get("databases", configured)
    if name in usable:
        return name
    if name in configured:
        raise ValueError(
            f"database {name!r} is a server that other keys use: only admin keys may name "
            "it, unless VOKAFLOW_USER_DATABASES lists it"
        )
    raise ValueError(f"no database named {name!r}; configured: {', '.join(usable)}")


def _not_the_service_s(name: str) -> str:
    if name.lower().startswith(SERVICE_TABLE_PREFIX):
        raise ValueError(f"tables named {SERVICE_TABLE_PREFIX}* are the service's own")
    return name


Identifier = Annotated[str, AfterValidator(_identifier)]
WritableTable = Annotated[str, AfterValidator(_identifier), AfterValidator(_not_the_service_s)]
# validate_default: leaving ``database`` out names ``default``, which may be a server that
# the caller's key may not use.
DatabaseName = Annotated[str, AfterValidator(_known_database), Field(validate_default=True)]


def _fits_bigint(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise ValueError("integers must fit in 64 bits")
    return value


# Strict types, so "1" stays text and true stays a boolean.
Scalar = Annotated[
    StrictBool | StrictInt | StrictFloat | StrictStr | None, AfterValidator(_fits_bigint)
]
Row = Annotated[dict[Identifier, Scalar], Field(min_length=1)]


# --- pure helpers ---------------------------------------------------------------------

_KIND_OF_TYPE: dict[type, ColumnKind] = {
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "text",
}


def column_kinds(rows: Sequence[Mapping[str, object]]) -> dict[str, ColumnKind]:
    """Each column's kind, in the order the columns first appear. A column of nulls only is
    text; integers mixed with floats are float; any other mix is a ValueError."""
    seen: dict[str, set[ColumnKind]] = {}
    for row in rows:
        for name, value in row.items():
            kinds = seen.setdefault(name, set())
            if value is not None:
                kinds.add(_KIND_OF_TYPE[type(value)])
    return {name: _one_kind(name, kinds) for name, kinds in seen.items()}


def _one_kind(name: str, kinds: set[ColumnKind]) -> ColumnKind:
    if not kinds:
        return "text"
    if kinds == {"integer", "float"}:
        return "float"
    if len(kinds) == 1:
        return next(iter(kinds))
    raise ValueError(
        f"column {name!r} mixes {' and '.join(sorted(kinds))} values; "
        "a new table needs one type per column"
    )


def column_names(rows: Sequence[Mapping[str, object]]) -> list[str]:
    """Every key of every row, in the order they first appear."""
    return list(dict.fromkeys(name for row in rows for name in row))


def json_safe(value: object) -> object:
    """A database value as JSON: dates as ISO 8601, Decimal as float, bytes as base64,
    intervals as seconds; NaN and infinities (which JSON lacks) as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return json_safe(float(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return str(value)  # UUID, IP addresses, ranges and the like


def single_statement(query: str) -> str:
    """``query`` without trailing semicolons; ValueError if it holds more than one statement.

    Skips quoted strings (also E'' and $$ ones), quoted names and comments. This is for a
    clear message only: both SQLite's driver and PostgreSQL's extended protocol refuse a
    second statement themselves."""
    index, end, empty = 0, None, True
    while index < len(query):
        skipped = _skip_comment(query, index)
        if skipped is not None:
            index = skipped
        elif end is not None:
            if not (query[index].isspace() or query[index] == ";"):
                raise ValueError(
                    "complex_query is read-only and runs one statement; this query holds more"
                )
            index += 1
        elif query[index] == ";":
            end, index = index, index + 1
        else:
            empty = empty and query[index].isspace()
            index = _skip_token(query, index)
    if empty:
        raise ValueError("the query is empty")
    return query if end is None else query[:end]


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _skip_comment(query: str, index: int) -> int | None:
    if query.startswith("--", index):
        newline = query.find("\n", index)
        return len(query) if newline < 0 else newline + 1
    if query.startswith("/*", index):
        depth, index = 1, index + 2
        while index < len(query) and depth:  # PostgreSQL nests block comments
            if query.startswith("/*", index):
                depth, index = depth + 1, index + 2
            elif query.startswith("*/", index):
                depth, index = depth - 1, index + 2
            else:
                index += 1
        return index
    return None


def _skip_token(query: str, index: int) -> int:
    """The index after the string, quoted name or single character at ``index``."""
    char = query[index]
    word_before = index > 0 and (query[index - 1].isalnum() or query[index - 1] == "_")
    if char in "'\"":
        escapes = char == "'" and word_before and query[index - 1] in "eE"
        return _quoted_end(query, index, escapes)
    tag = _DOLLAR_TAG.match(query, index) if char == "$" and not word_before else None
    if tag is not None:
        close = query.find(tag.group(), tag.end())
        return len(query) if close < 0 else close + len(tag.group())
    return index + 1


def _quoted_end(query: str, index: int, backslash_escapes: bool) -> int:
    quote, index = query[index], index + 1
    while index < len(query):
        if backslash_escapes and query[index] == "\\":
            index += 2
        elif query[index] == quote:
            if not query.startswith(quote * 2, index):
                return index + 1
            index += 2
        else:
            index += 1
    return index


# --- engines --------------------------------------------------------------------------


def database_url(database: str) -> str:
    """The URL for the running task: ``default`` as SQLite lies in its principal's folder.
    Checked again here, whatever validation ran: a principal's task may not reach a server
    that is not listed for users."""
    settings, task, own_folder = current_settings(), current_task(), current_roots()[0]
    try:
        url = settings.database_url_for(database, own_folder)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    scoped = task is not None and bool(task.data_scope)
    if database not in settings.database_names(principal_scoped=scoped):
        raise PermissionError(f"this task's key may not use the database {database!r}")
    if not settings.is_database_server(database):
        confine(own_folder / SQLITE_FILE, [own_folder])  # a planted link must not lead out
    return url


@functools.lru_cache(maxsize=ENGINES_KEPT)
def _engine(url: str) -> Engine:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _make_parent(parsed.database)
        return sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    return sa.create_engine(parsed, pool_pre_ping=True)


@functools.lru_cache(maxsize=ENGINES_KEPT)
def _read_only_engine(url: str) -> Engine:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _make_parent(parsed.database)
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        sa.event.listen(engine, "connect", _sqlite_read_only)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        # Prepare every statement: the extended protocol takes one statement per call. No
        # pool: a task's session ends with the task, and with it all the session kept.
        return sa.create_engine(
            parsed, poolclass=sa.pool.NullPool, connect_args={"prepare_threshold": 0}
        )
    raise ValueError(
        f"read-only queries and exports need {READ_ONLY_QUERIES}, "
        f"not {parsed.get_backend_name()}+{parsed.get_driver_name()}"
    )


def _make_parent(database: str | None) -> None:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


_SQLITE_READS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
    sqlite3.SQLITE_TRANSACTION,  # the driver's own BEGIN and ROLLBACK
}
# What SQLAlchemy's reflection asks; any pragma that only reads (given no value) is fine too.
_SQLITE_INTROSPECTION = {
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
}


def sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    """Allows reading only; refuses writes, ATTACH (which creates files) and query_only."""
    if action in _SQLITE_READS:
        return sqlite3.SQLITE_OK
    reads_a_pragma = arg2 is None or arg1 in _SQLITE_INTROSPECTION
    if action == sqlite3.SQLITE_PRAGMA and arg1 != "query_only" and reads_a_pragma:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def sqlite_heap_limit() -> int:
    return max(SQLITE_HEAP_FLOOR, 2 * current_settings().query_max_bytes)


def _sqlite_read_only(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.execute("PRAGMA query_only = ON")
    # For the whole process, which runs one task at a time; the pragma only ever lowers it.
    dbapi_connection.execute(f"PRAGMA hard_heap_limit = {sqlite_heap_limit()}")
    dbapi_connection.set_authorizer(sqlite_authorizer)


def _driver(connection: Connection) -> Any:
    """The DBAPI connection under ``connection``: sqlite3's or psycopg's."""
    return connection.connection.driver_connection


@contextlib.contextmanager
def _read_only_connection(database: str) -> Iterator[Connection]:
    """A connection the database itself keeps from writing; rolled back at the end. On
    SQLite no value read on it may exceed VOKAFLOW_QUERY_MAX_BYTES."""
    engine = _read_only_engine(database_url(database))
    with engine.connect() as connection:
        try:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                _refuse_unconfined_role(connection)
            else:
                max_bytes = current_settings().query_max_bytes
                _driver(connection).setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_bytes)
            yield connection
        finally:
            connection.rollback()


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.restart()

    def restart(self) -> None:
        self.at = monotonic() + self.seconds

    def passed(self) -> bool:
        return monotonic() > self.at


@contextlib.contextmanager
def _time_bound(connection: Connection) -> Iterator[_Deadline]:
    """Ends a statement run inside once it has run VOKAFLOW_QUERY_TIMEOUT_S. PostgreSQL
    times each statement itself: statement_timeout, set here, after any statement that
    could have changed it. On SQLite a progress handler stops the statement at the
    deadline this yields; an export restarts it for each chunk, as each of its FETCHes on
    PostgreSQL has its own time."""
    deadline = _Deadline(current_settings().query_timeout_s)
    if connection.dialect.name == "postgresql":
        milliseconds = math.ceil(deadline.seconds * 1000)
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        yield deadline
        return
    driver = _driver(connection)
    driver.set_progress_handler(deadline.passed, SQLITE_CLOCK_STEPS)
    try:
        yield deadline
    finally:
        driver.set_progress_handler(None, SQLITE_CLOCK_STEPS)


# A READ ONLY transaction lets a role run these, and rolling it back undoes nothing they
# did: they end or interrupt other sessions (other tasks under the same role among them),
# take locks that other sessions wait on (session locks outlive the transaction), write
# the server's WAL or files, or connect to a server (this one too) outside the transaction.
SIDE_EFFECT_FUNCTIONS = (
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
    "pg_logical_emit_message",
    "lo_export",
    "dblink",
    "dblink_connect",
    "dblink_connect_u",
    "dblink_exec",
)
# Nor does it keep their members from reading or writing server files or running programs
# (pg_read_file, COPY ... TO a file or PROGRAM).
SERVER_ACCESS_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")

_ROLE_CHECK = """
SELECT quote_ident(current_user),
    current_setting('is_superuser') = 'on',
    (SELECT rolreplication FROM pg_roles WHERE rolname = current_user),
    ARRAY(SELECT name FROM unnest(CAST(:roles AS text[])) AS name
        WHERE pg_has_role(current_user, name, 'MEMBER')),
    ARRAY(SELECT CAST(CAST(oid AS regprocedure) AS text) FROM pg_proc
        WHERE proname = ANY(CAST(:functions AS text[])) AND has_function_privilege(oid, 'EXECUTE')
        ORDER BY 1)
"""


def _refuse_unconfined_role(connection: Connection) -> None:
    import sqlalchemy as sa

    names = {"roles": list(SERVER_ACCESS_ROLES), "functions": list(SIDE_EFFECT_FUNCTIONS)}
    role, superuser, replication, roles, functions = connection.execute(
        sa.text(_ROLE_CHECK), names
    ).one()
    if superuser:
        raise PermissionError(
            "the database role is a superuser, whom a read-only transaction does not keep "
            "from reading server files or running programs: configure a role without it"
        )
    fixes = role_fixes(role, replication, roles, functions)
    if fixes:
        raise PermissionError(
            f"the database role {role} may do what a read-only transaction does not stop "
            "(reach server files or programs, end or lock other sessions, write WAL, keep "
            f"replication slots). As a superuser, in this database, run: {' '.join(fixes)} "
            "Grant those functions again to the other roles that need them."
        )


def role_fixes(
    role: str, replication: bool, roles: Sequence[str], functions: Sequence[str]
) -> list[str]:
    """The statements that make ``role`` one that a read-only transaction confines, given
    what it may do now: REPLICATION, the SERVER_ACCESS_ROLES it is a member of, and the
    SIDE_EFFECT_FUNCTIONS it may execute (as signatures)."""
    fixes = []
    if replication:
        fixes.append(f"ALTER ROLE {role} NOREPLICATION;")
    if roles:
        fixes.append(f"REVOKE {', '.join(roles)} FROM {role};")
    if functions:
        fixes.append(f"REVOKE EXECUTE ON FUNCTION {', '.join(functions)} FROM PUBLIC, {role};")
    return fixes


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_REFUSED_BY_SQLITE = ("readonly database", "not authorized", "authorization denied")
_SEVERAL_STATEMENTS = ("multiple commands", "one statement at a time")
_STOPPED = ("statement timeout", "interrupted")  # PostgreSQL's, and SQLite's progress handler's


def _query_error(exc: Exception) -> Exception:
    """What the task reports for an error of the database (a DBAPI error, raw or wrapped by
    SQLAlchemy) or a MemoryError while reading."""
    settings = current_settings()
    if isinstance(exc, MemoryError):
        return MemoryError(
            "the statement needs more memory than a worker gives it (SQLite may use "
            f"{sqlite_heap_limit()} bytes there): read fewer or smaller values"
        )
    reason = _first_line(exc)
    sqlstate = getattr(getattr(exc, "orig", None) or exc, "sqlstate", None)
    if any(marker in reason for marker in _STOPPED):
        return TimeoutError(
            f"the statement ran longer than VOKAFLOW_QUERY_TIMEOUT_S "
            f"({settings.query_timeout_s:g} s) and was stopped"
        )
    if "string or blob too big" in reason:
        return ValueError(f"a value is larger than {_bound(settings.query_max_bytes)}")
    if sqlstate == "25006" or any(marker in reason for marker in _REFUSED_BY_SQLITE):
        return PermissionError(f"the query is read-only: the database refused it ({reason})")
    if any(marker in reason for marker in _SEVERAL_STATEMENTS):
        return PermissionError(f"the query is read-only and runs one statement ({reason})")
    if sqlstate == "42601":  # a syntax error, maybe only as a subquery
        return ValueError(
            f"the query failed: {reason} (on PostgreSQL, complex_query runs one read-only "
            "SELECT, WITH, VALUES or TABLE statement, as a subquery)"
        )
    return ValueError(f"the query failed: {reason}")


def _bound(max_bytes: int) -> str:
    return f"VOKAFLOW_QUERY_MAX_BYTES ({max_bytes} bytes)"


# --- bounded reads --------------------------------------------------------------------


def measured(statement: str, columns: int, max_bytes: int, limit: int | None = None) -> str:
    """PostgreSQL SQL that runs ``statement`` (which has ``columns`` columns) as a subquery
    and measures each row, as text in bytes, before sending it: a row comes with its size
    as one more column, and with its other columns null where it is over ``max_bytes``, so
    that it never reaches the worker whole.

    The names around the statement are random, so the statement cannot name them: even
    text that closes the subquery's parenthesis early cannot change what the outer select
    sends, which is only the measured row's columns and its size."""
    tag = uuid.uuid4().hex
    row, kept, size = f"vf_row_{tag}", f"vf_measured_{tag}", f"vf_size_{tag}"
    names = [f"c{index}" for index in range(columns)]
    guarded = [f"CASE WHEN {kept}.{size} <= {max_bytes} THEN {kept}.{name} END" for name in names]
    aliases = f"({', '.join(names)})" if names else ""
    # OFFSET 0 keeps the subquery whole, so the size is computed once a row
    sql = (
        f"SELECT {', '.join([*guarded, f'{kept}.{size}'])} "
        f"FROM (SELECT {row}.*, octet_length(CAST({row} AS text)) AS {size} "
        f"FROM (\n{statement}\n) AS {row}{aliases} OFFSET 0) AS {kept}"
    )
    return sql if limit is None else f"{sql} LIMIT {limit}"


def columns_of(statement: str) -> str:
    """PostgreSQL SQL whose result has ``statement``'s columns and no row (and runs nothing)."""
    return f"SELECT * FROM (\n{statement}\n) AS vf_columns_{uuid.uuid4().hex} LIMIT 0"


Costed = tuple[Sequence[Any], int]  # a row's values, and what it counts against the bound


def _measured_rows(
    connection: Connection, driver_sql: str, parameters: Mapping[str, object]
) -> Generator[Costed, None, None]:
    """The rows of a ``measured`` statement (or a FETCH from its cursor) one at a time, in
    libpq's single-row mode: the worker holds no more of the result than the row at hand."""
    with (
        _driver(connection).cursor() as cursor,
        contextlib.closing(cursor.stream(driver_sql, dict(parameters))) as rows,
    ):
        for row in rows:
            values = row[:-1]
            yield values, row[-1] + ROW_VALUE_BYTES * len(values)


def _value_bytes(value: object) -> int:
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode())
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    return 8


def sqlite_row_cost(values: Sequence[object]) -> int:
    """What a SQLite row counts against VOKAFLOW_QUERY_MAX_BYTES: its text (as UTF-8) and
    blobs, 8 bytes for any other value, and ROW_VALUE_BYTES for each value."""
    return sum(_value_bytes(value) for value in values) + ROW_VALUE_BYTES * len(values)


def take_rows(rows: Iterable[Costed], count: int, max_bytes: int) -> list[Sequence[Any]]:
    """Up to ``count`` rows, taken one at a time; ValueError as soon as the rows taken cost
    more than ``max_bytes``."""
    taken: list[Sequence[Any]] = []
    total = 0
    for values, cost in rows:
        total += cost
        if total > max_bytes:
            raise ValueError(
                f"the result is larger than {_bound(max_bytes)} by row {len(taken) + 1}: "
                "read fewer rows (max_rows) or columns, or write a whole table to a file "
                "with export_table"
            )
        taken.append(values)
        if len(taken) == count:
            break
    return taken


def chunked(rows: Iterable[Costed], max_rows: int, max_bytes: int) -> Iterator[list[Sequence[Any]]]:
    """The rows in chunks of at most ``max_rows``, a chunk ending early once its rows cost
    ``max_bytes`` (so a chunk costs less than twice that); ValueError for a single row that
    costs more than ``max_bytes``."""
    chunk: list[Sequence[Any]] = []
    total = 0
    for number, (values, cost) in enumerate(rows, 1):
        if cost > max_bytes:
            raise ValueError(f"row {number} is larger than {_bound(max_bytes)}")
        chunk.append(values)
        total += cost
        if len(chunk) == max_rows or total >= max_bytes:
            yield chunk
            chunk, total = [], 0
    if chunk:
        yield chunk


# --- bulk_insert ----------------------------------------------------------------------


def _sqlalchemy_type(kind: ColumnKind) -> type[TypeEngine[Any]]:
    import sqlalchemy as sa

    types: dict[ColumnKind, type[TypeEngine[Any]]] = {
        "integer": sa.BigInteger,
        "float": sa.Float,
        "boolean": sa.Boolean,
        "text": sa.Text,
    }
    return types[kind]


def _target_table(engine: Engine, name: str, rows: Sequence[Mapping[str, object]]) -> Table:
    """The table as it is; created with types inferred from ``rows`` if it does not exist."""
    import sqlalchemy as sa

    metadata = sa.MetaData()
    try:
        return sa.Table(name, metadata, autoload_with=engine)
    except sa.exc.NoSuchTableError:
        kinds = column_kinds(rows)
        columns = [sa.Column(column, _sqlalchemy_type(kind)) for column, kind in kinds.items()]
        table = sa.Table(name, metadata, *columns)
        table.create(engine, checkfirst=True)
        return table


@function(
    category="database",
    worker_type=WorkerType.IO_INTENSIVE,
    description="Inserts rows into a table (created from the rows' types if missing)",
    estimated_duration="1-10 seconds",
)
def bulk_insert(
    table: WritableTable,
    data: Annotated[list[Row], Field(min_length=1, max_length=MAX_ROWS_PER_INSERT)],
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 1000,
    database: DatabaseName = "default",
) -> dict[str, Any]:
    """All rows in one transaction, sent ``batch_size`` rows at a time: a failed attempt
    inserts nothing, so retrying it cannot insert a row twice. Keys missing from a row are
    inserted as NULL."""
    engine = _engine(database_url(database))
    target = _target_table(engine, table, data)
    columns = column_names(data)
    unknown = [column for column in columns if column not in target.c]
    if unknown:
        raise ValueError(
            f"table {table!r} has no column {', '.join(map(repr, unknown))}; "
            f"its columns: {', '.join(target.c.keys())}"
        )
    task = current_task()
    ledger = None if task is None else AppliedTasks.open(engine, task, table, data)

    def insert() -> dict[str, Any]:
        return _insert_in_one_transaction(
            engine, target, data, columns, batch_size, ledger, database
        )

    return insert() if ledger is None else ledger.once(insert)


def _insert_in_one_transaction(
    engine: Engine,
    target: Table,
    data: Sequence[Mapping[str, object]],
    columns: list[str],
    batch_size: int,
    ledger: AppliedTasks | None,
    database: str,
) -> dict[str, Any]:
    inserted = batches = 0
    step = "batch 1"
    try:
        with engine.begin() as connection:
            if ledger is not None:
                ledger.claim(connection)  # first, so a concurrent run of the task waits here
            for start in range(0, len(data), batch_size):
                batch = [
                    {column: row.get(column) for column in columns}
                    for row in data[start : start + batch_size]
                ]
                connection.execute(target.insert(), batch)  # executemany, bound parameters
                inserted, batches = inserted + len(batch), batches + 1
                report_progress(inserted / len(data), sent=inserted, batches=batches)
                step = f"batch {batches + 1}" if inserted < len(data) else "the commit"
            result = {
                "table": target.name,
                "inserted": inserted,
                "batches": batches,
                "database": database,
            }
            if ledger is not None:
                ledger.record(connection, result)
    except Exception as exc:
        raise RuntimeError(f"{step} failed, so no row was inserted: {_first_line(exc)}") from exc
    return result


ABANDONED_INSERT_TIMEOUT_S = 60.0  # between two statements of one insert, at most


class AppliedTasks:
    """``vokaflow_applied_tasks`` in the target database: a row per insert that committed,
    written in the insert's own transaction, with the result it returned.

    Delivery is at least once: a worker lost after the commit but before its outcome
    reached Redis runs the task again. That run finds the row and returns the first result,
    marked ``already_applied``, instead of inserting the rows a second time. A row is named
    by the task and a digest of the table, the rows and the task's submission time: one
    task may make several inserts, only the same rows into the same table count as done,
    and a new submission under a reused idempotency key (same task id) inserts again."""

    NAME = f"{SERVICE_TABLE_PREFIX}applied_tasks"

    def __init__(self, engine: Engine, table: Table, task_id: str, digest: str) -> None:
        self.engine, self.table, self.task_id, self.digest = engine, table, task_id, digest

    @classmethod
    def open(
        cls, engine: Engine, task: TaskContext, target: str, rows: Sequence[Mapping[str, object]]
    ) -> AppliedTasks | None:
        """None, with a warning in the task's log, where the role may not create or write
        the table: the insert then runs without the guard, at least once."""
        table, missing_because = _ledger_table(engine)
        if table is None:
            log.warning("no %s (%s): a re-run may insert again", cls.NAME, missing_because)
            return None
        applied = [target, list(rows), repr(task.created_at)]
        payload = json.dumps(applied, sort_keys=True, default=str)
        return cls(engine, table, task.task_id, hashlib.sha256(payload.encode()).hexdigest())

    def once(self, insert: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The first result when this insert committed before, else ``insert``'s. A run
        that loses the race to a concurrent one fails on the ledger's key and returns the
        winner's result."""
        earlier = self.earlier_result()
        if earlier is not None:
            return earlier
        try:
            return insert()
        except RuntimeError:
            earlier = self.earlier_result()
            if earlier is None:
                _ledger_table.cache_clear()  # the next run checks the ledger table again
                raise
            return earlier

    def _this_insert(self) -> Any:
        return (self.table.c.task_id == self.task_id) & (self.table.c.insert_digest == self.digest)

    def earlier_result(self) -> dict[str, Any] | None:
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(self.table.c.result).where(self._this_insert())
            ).scalar_one_or_none()
        return None if found is None else {**json.loads(found), "already_applied": True}

    def claim(self, connection: Connection) -> None:
        import sqlalchemy as sa

        if connection.dialect.name == "postgresql":
            # A worker on a lost node leaves its transaction open, and a re-run of its task
            # would wait on this row's key for as long as the dead connection lasts (hours
            # of TCP keepalive). PostgreSQL ends a transaction left idle this long.
            idle_ms = str(int(ABANDONED_INSERT_TIMEOUT_S * 1000))
            set_local = "SELECT set_config('idle_in_transaction_session_timeout', :ms, true)"
            connection.execute(sa.text(set_local), {"ms": idle_ms})
        row = {
            "task_id": self.task_id,
            "insert_digest": self.digest,
            "result": "{}",
            "applied_at": datetime.now(timezone.utc),
        }
        connection.execute(self.table.insert(), row)

    def record(self, connection: Connection, result: dict[str, Any]) -> None:
        update = self.table.update().where(self._this_insert())
        connection.execute(update.values(result=json.dumps(result)))


@functools.lru_cache(maxsize=ENGINES_KEPT)
def _ledger_table(engine: Engine) -> tuple[Table | None, str]:
    """The ledger, created if missing, once per engine and process; or None and why, where
    this role may not create it or read and write it."""
    import sqlalchemy as sa

    table = sa.Table(
        AppliedTasks.NAME,
        sa.MetaData(),
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("insert_digest", sa.String(64), primary_key=True),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    try:
        table.create(engine, checkfirst=True)
    except sa.exc.DBAPIError as exc:
        # another worker may have created it at the same moment
        if not sa.inspect(engine).has_table(AppliedTasks.NAME):
            if not _refused_for_privilege(exc):
                raise
            return None, _first_line(exc)
    if not _may_write(engine, AppliedTasks.NAME):
        return None, "this role may not read and write it"
    return table, ""


def _refused_for_privilege(exc: DBAPIError) -> bool:
    """PostgreSQL's insufficient_privilege, or a SQLite file opened read-only."""
    return getattr(exc.orig, "sqlstate", None) == "42501" or "readonly" in str(exc.orig)


def _may_write(engine: Engine, table: str) -> bool:
    import sqlalchemy as sa

    if engine.dialect.name != "postgresql":
        return True
    # with several privileges in one call, PostgreSQL answers whether any is held
    check = sa.text(
        "SELECT has_table_privilege(current_user, :t, 'SELECT') AND "
        "has_table_privilege(current_user, :t, 'INSERT') AND "
        "has_table_privilege(current_user, :t, 'UPDATE')"
    )
    with engine.connect() as connection:
        return bool(connection.execute(check, {"t": table}).scalar())


# --- complex_query --------------------------------------------------------------------


def _checked_parameters(query: str, parameters: Mapping[str, object]) -> None:
    import sqlalchemy as sa

    wanted = set(sa.text(query).compile().params)
    missing, unused = sorted(wanted - set(parameters)), sorted(set(parameters) - wanted)
    if missing:
        raise ValueError(f"the query uses :{', :'.join(missing)} but parameters has no value")
    if unused:
        raise ValueError(f"parameters {', '.join(unused)} are not used by the query")


@function(
    category="database",
    worker_type=WorkerType.CPU_INTENSIVE,
    description="Runs one read-only SQL statement with bound :name parameters",
    estimated_duration="2-15 seconds",
)
def complex_query(
    query: Annotated[str, Field(min_length=1, max_length=100_000)],
    parameters: dict[Identifier, Scalar] | None = None,
    database: DatabaseName = "default",
    max_rows: Annotated[int, Field(ge=1, le=MAX_QUERY_ROWS)] = 10_000,
) -> dict[str, Any]:
    """A result that would hold more than VOKAFLOW_QUERY_MAX_BYTES fails the task: unlike
    ``max_rows``, which the caller chose, a cut the caller did not ask for is easy to take
    for the whole answer."""
    statement = single_statement(query)
    bound = dict(parameters or {})
    _checked_parameters(statement, bound)
    max_bytes = current_settings().query_max_bytes
    with (
        _read_only_connection(database) as connection,
        _database_errors(connection),
        _time_bound(connection),
    ):
        columns, found = _query_rows(connection, statement, bound, max_rows + 1)
        with contextlib.closing(found):
            taken = take_rows(found, max_rows, max_bytes)
            # the one row more, if any: read to the end, so that no statement is cut off
            truncated = bool(list(found))
    rows = [[json_safe(value) for value in row] for row in taken]
    return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": truncated}


@contextlib.contextmanager
def _database_errors(connection: Connection) -> Iterator[None]:
    import sqlalchemy as sa

    try:
        yield
    except (sa.exc.DBAPIError, connection.dialect.loaded_dbapi.Error, MemoryError) as exc:
        raise _query_error(exc) from exc


def _query_rows(
    connection: Connection, statement: str, parameters: Mapping[str, object], limit: int
) -> tuple[list[str], Generator[Costed, None, None]]:
    """The statement's columns, and at most ``limit`` of its rows, taken as they come."""
    import sqlalchemy as sa

    if connection.dialect.name == "postgresql":
        described = connection.execute(sa.text(columns_of(statement)), parameters)
        columns = list(described.keys())
        described.close()
        max_bytes = current_settings().query_max_bytes
        wrapped = measured(statement, len(columns), max_bytes, limit)
        compiled = sa.text(wrapped).compile(dialect=connection.dialect)
        return columns, _measured_rows(
            connection, compiled.string, compiled.construct_params(parameters)
        )
    result = connection.execute(sa.text(statement), parameters)
    return (list(result.keys()) if result.returns_rows else []), _sqlite_rows(result, limit)


def _sqlite_rows(
    result: CursorResult[Any], limit: int | None = None
) -> Generator[Costed, None, None]:
    if result.returns_rows:
        for row in itertools.islice(result, limit):
            yield tuple(row), sqlite_row_cost(row)


# --- export_table ---------------------------------------------------------------------


def csv_cell(value: object) -> object:
    """A value as the csv module should write it: null as an empty cell, Decimal exact."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value)
    return json_safe(value)


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(json_safe(value))
    return str(json_safe(value))


def _as_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _arrow_column(column_type: TypeEngine[Any]) -> tuple[pa.DataType, Callable[[Any], Any]]:
    """The Arrow type for a column and how to turn its values into that type; types Arrow
    has no match for (JSON, UUID, arrays, untyped SQLite columns) become text."""
    import pyarrow as pa
    import sqlalchemy as sa

    def same(value: object) -> object:
        return value

    if isinstance(column_type, sa.Boolean):
        return pa.bool_(), same
    if isinstance(column_type, sa.Integer):
        return pa.int64(), same
    if isinstance(column_type, sa.Float | sa.Numeric):  # Decimal becomes float64
        return pa.float64(), _as_float
    if isinstance(column_type, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if column_type.timezone else None), same
    if isinstance(column_type, sa.Date):
        return pa.date32(), same
    if isinstance(column_type, sa.Time):
        return pa.time64("us"), same
    if isinstance(column_type, sa.LargeBinary):
        return pa.binary(), same
    return pa.string(), _as_text


class _ParquetSink:
    def __init__(self, path: Path, table: Table) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._names = [column.name for column in table.columns]
        typed = [_arrow_column(column.type) for column in table.columns]
        self._converters = [convert for _, convert in typed]
        self._schema = pa.schema(
            [pa.field(name, arrow) for name, (arrow, _) in zip(self._names, typed, strict=True)]
        )
        self._writer = pq.ParquetWriter(path, self._schema)

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        import pyarrow as pa

        arrays = []
        for index, (name, convert) in enumerate(zip(self._names, self._converters, strict=True)):
            try:
                arrays.append(
                    pa.array([convert(row[index]) for row in rows], self._schema.field(name).type)
                )
            except (pa.ArrowException, TypeError, ValueError) as exc:
                raise ValueError(f"column {name!r} holds values unlike its type: {exc}") from exc
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def close(self) -> None:
        self._writer.close()


class _CsvSink:
    def __init__(self, path: Path, table: Table) -> None:
        self._file = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow([column.name for column in table.columns])

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        self._writer.writerows([csv_cell(value) for value in row] for row in rows)

    def close(self) -> None:
        self._file.close()


def _reflect(connection: Connection, table: str, database: str) -> Table:
    import sqlalchemy as sa

    try:
        return sa.Table(table, sa.MetaData(), autoload_with=connection)
    except sa.exc.NoSuchTableError:
        raise ValueError(f"database {database!r} has no table {table!r}") from None


@function(
    category="database",
    worker_type=WorkerType.IO_INTENSIVE,
    description="Writes a whole table to a CSV or Parquet file under the data roots",
    estimated_duration="1-30 seconds",
)
def export_table(
    table: Identifier,
    output_path: OutputPath,
    format: ExportFormat = "csv",
    database: DatabaseName = "default",
) -> dict[str, Any]:
    """Rows are streamed in chunks into a temporary file beside ``output_path``, which
    replaces it at the end: a failed export leaves no half-written file. A chunk is at most
    EXPORT_CHUNK_ROWS rows and about VOKAFLOW_QUERY_MAX_BYTES; a single larger row fails
    the export."""
    path = Path(output_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    max_bytes = current_settings().query_max_bytes
    rows = 0
    try:
        with _read_only_connection(database) as connection:
            source = _reflect(connection, table, database)
            sink = (
                _ParquetSink(partial, source) if format == "parquet" else _CsvSink(partial, source)
            )
            try:
                with (
                    _database_errors(connection),
                    _time_bound(connection) as deadline,
                    contextlib.closing(_table_rows(connection, source, max_bytes)) as found,
                ):
                    for chunk in chunked(found, EXPORT_CHUNK_ROWS, max_bytes):
                        sink.write(chunk)
                        rows += len(chunk)
                        report_progress(None, rows=rows)
                        deadline.restart()
            finally:
                sink.close()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return {"path": str(path), "rows": rows, "format": format, "bytes": path.stat().st_size}


def _table_rows(
    connection: Connection, source: Table, max_bytes: int
) -> Generator[Costed, None, None]:
    """Every row of ``source``, taken as they come. On PostgreSQL through a cursor that
    measures each row (see ``measured``), EXPORT_CHUNK_ROWS rows a FETCH."""
    import sqlalchemy as sa

    select = sa.select(source)
    if connection.dialect.name != "postgresql":
        yield from _sqlite_rows(connection.execute(select))
        return
    cursor = f"vf_export_{uuid.uuid4().hex}"
    query = measured(
        str(select.compile(dialect=connection.dialect)), len(source.columns), max_bytes
    )
    with _driver(connection).cursor() as declare:
        declare.execute(f"DECLARE {cursor} NO SCROLL CURSOR FOR {query}", {})
    while True:
        fetched = 0
        fetch = f"FETCH FORWARD {EXPORT_CHUNK_ROWS} FROM {cursor}"
        for row in _measured_rows(connection, fetch, {}):
            fetched += 1
            yield row
        if fetched < EXPORT_CHUNK_ROWS:
            return
