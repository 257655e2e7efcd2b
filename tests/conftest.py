"""One real stack per test session: `vokaflow up --detach` on test ports, `vokaflow down` after.

Its Redis is a redis-server these tests own (``stack_redis``), so that the chaos package
can stop and restart it; keys live under a fresh prefix. Every stack's head gets ports of
its own where Ray and Serve fix them (``vokaflow.testing.stack.ports_of_its_own``), so `make
test` runs two pytest runs side by side (see the Makefile): the packages with stacks of
their own, then tests/security on a session stack of that run (on other ports, given in the
environment); and tests/integration, then tests/chaos, on the other run's. Within a run,
``pytest_collection_modifyitems`` sets the order: the packages with a stack of their own in
OWN_STACK_PACKAGES's order; then the tests on the session's stack; the chaos package last,
as its faults (a Redis restart, a scheduler kill, and last of all `down` and `up`) would
disturb any test after them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vokaflow.store.embedded import EmbeddedRedis
from vokaflow.testing.stack import VOKAFLOW, LocalStack, RedisServer

__all__ = ["VOKAFLOW"]

# The database functions run as a plain role: complex_query refuses a superuser, whom a
# read-only transaction does not keep from reading server files, and any role that such a
# transaction does not confine. POSTGRES_UNSAFE_ROLE is one, as an operator might configure.
POSTGRES_ADMIN_URL = os.environ.get(
    "VOKAFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
POSTGRES_ROLE = "vokaflow_it"
POSTGRES_URL = POSTGRES_ADMIN_URL.replace("postgres@", f"{POSTGRES_ROLE}@", 1)
POSTGRES_UNSAFE_ROLE = "vokaflow_it_unsafe"
ROLES_LOCK = 0x766F6B61  # the advisory lock ensure_postgres_role holds
POSTGRES_UNSAFE_URL = POSTGRES_ADMIN_URL.replace("postgres@", f"{POSTGRES_UNSAFE_ROLE}@", 1)
SMTP_PORT = int(os.environ.get("VOKAFLOW_TEST_SMTP_PORT", "8825"))  # tests start the server
# The OTLP/HTTP receiver tests/integration/test_traces.py starts. The stack samples no trace
# of its own (ratio 0): only a submit whose caller's traceparent is sampled is traced.
OTLP_PORT = int(os.environ.get("VOKAFLOW_TEST_OTLP_PORT", "4328"))
NOTIFY_WEBHOOK_SECRET = "test-notify-secret"
JWT_CLAIMS = {"iss": "vokaflow-tests", "aud": "vokaflow-api"}  # what the test stack wants

TEST_SETTINGS = {
    "VOKAFLOW_ENVIRONMENT": "test",
    "VOKAFLOW_POOL_MAX_WORKERS": '{"MEMORY_INTENSIVE": 1}',
    "VOKAFLOW_SCHEDULER_STALE_AFTER_S": "3",
    "VOKAFLOW_MAX_REQUEST_BYTES": "1048576",
    "VOKAFLOW_RATE_LIMITS": json.dumps(
        {
            "ml": {"limit_per_second": 2, "burst": 5},
            "metered": {"limit_per_second": 2, "burst": 5},
        }
    ),
    "VOKAFLOW_RETRY_BACKOFF_BASE_S": "0.4",
    "VOKAFLOW_SHUTDOWN_GRACE_S": "2",
    "VOKAFLOW_AUTH_FAILURE_LIMIT": "50",
    "VOKAFLOW_AUTH_FAILURE_WINDOW_S": "5",
    "VOKAFLOW_JWT_ISSUER": "vokaflow-tests",
    "VOKAFLOW_JWT_AUDIENCE": "vokaflow-api",
    "VOKAFLOW_RAY_METRICS_EXPORT_PORT": os.environ.get("VOKAFLOW_TEST_METRICS_PORT", "8781"),
    "VOKAFLOW_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',
    "VOKAFLOW_WEBHOOK_BACKOFF_BASE_S": "0.2",
    "VOKAFLOW_WEBHOOK_BACKOFF_MAX_S": "1",
    "VOKAFLOW_WEBHOOK_MAX_PER_OWNER": "5",
    "VOKAFLOW_VICKY_DEFAULT_MODEL": "tiny",
    "VOKAFLOW_PLUGINS": "tests.plugins.weather_functions,tests.plugins.metered_functions",
    # one fine-tuned model per key: every trained tiny model holds half a core on Serve
    "VOKAFLOW_VICKY_MAX_TRAINED_PER_PRINCIPAL": "1",
    # short enough for a test to wait out a model that never answers
    "VOKAFLOW_VICKY_REQUEST_TIMEOUT_S": "15",
    # pg_shared is pg under a name that non-admin keys may use too; pg_unsafe's role is
    # one that complex_query must refuse
    "VOKAFLOW_DATABASES": json.dumps(
        {
            "pg": POSTGRES_URL,
            "pg_superuser": POSTGRES_ADMIN_URL,
            "pg_shared": POSTGRES_URL,
            "pg_unsafe": POSTGRES_UNSAFE_URL,
        }
    ),
    "VOKAFLOW_USER_DATABASES": '["pg_shared", "pg_unsafe"]',
    "VOKAFLOW_QUERY_TIMEOUT_S": "5",
    "VOKAFLOW_QUERY_MAX_BYTES": str(4 * 1024 * 1024),
    "VOKAFLOW_SMTP_PORT": str(SMTP_PORT),
    "VOKAFLOW_OTLP_ENDPOINT": f"http://127.0.0.1:{OTLP_PORT}/v1/traces",
    "VOKAFLOW_TRACE_SAMPLE_RATIO": "0",
    "VOKAFLOW_NOTIFY_WEBHOOK_SECRET": NOTIFY_WEBHOOK_SECRET,
    # the gateway and Ray's workers import the plugin from the repository
    "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
}


# What the chaos package needs of the session's stack, which the other tests do not notice:
# batches whose first task is named after a submission step fail once right after that
# step (tests/chaos/test_batch_submission.py), interrupted ones are finished after 2 s;
# 5,000 drill tasks pass the `system` limit; and `down` waits for the running tasks.
FAULT_SETTINGS = {
    "VOKAFLOW_FAILPOINTS": json.dumps(
        [f"batch.{step}@{step}" for step in ("after_begin", "after_tasks", "after_commit")]
    ),
    "VOKAFLOW_BATCH_SUBMIT_GRACE_S": "2",
    "VOKAFLOW_RATE_LIMITS": json.dumps(
        {
            **json.loads(TEST_SETTINGS["VOKAFLOW_RATE_LIMITS"]),
            "system": {"limit_per_second": 100000, "burst": 100000},
        }
    ),
    "VOKAFLOW_SHUTDOWN_GRACE_S": "8",
}

TESTS = Path(__file__).resolve().parent
# In this order: `make test` runs the lower tiers beside the first of them, so those that
# wait patiently for their stack come first, and node loss, which must catch a 10 s task
# while it runs, last, when the lower tiers have ended.
OWN_STACK_PACKAGES = ("foreground", "cluster", "cluster_auth", "chaos_node_loss")
LAST_PACKAGE = "chaos"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_run_order)  # stable: within a group, the collection's order


def _run_order(item: pytest.Item) -> int:
    package = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
    if package in OWN_STACK_PACKAGES:
        return OWN_STACK_PACKAGES.index(package)
    on_session_stack = len(OWN_STACK_PACKAGES)
    return on_session_stack + 1 if package == LAST_PACKAGE else on_session_stack


def ensure_postgres_role() -> None:
    """POSTGRES_ROLE, a login role that may create tables in the test database, and nothing
    more: the functions whose effects a read-only transaction does not stop are revoked
    from PUBLIC there, as the operator of a database that complex_query reads must. And
    POSTGRES_UNSAFE_ROLE, which may also write server files, signal other sessions and take
    advisory locks."""
    import sqlalchemy

    from vokaflow.functions.database import SIDE_EFFECT_FUNCTIONS

    engine = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        # two stack runs at once (`make test`) would race to create the roles and grant
        connection.exec_driver_sql("SELECT pg_advisory_lock(%s)", (ROLES_LOCK,))
        for role in (POSTGRES_ROLE, POSTGRES_UNSAFE_ROLE):
            exists = connection.exec_driver_sql(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
            ).scalar()
            if not exists:
                connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
            connection.exec_driver_sql(f"GRANT USAGE, CREATE ON SCHEMA public TO {role}")
        signatures = connection.exec_driver_sql(
            "SELECT string_agg(CAST(CAST(oid AS regprocedure) AS text), ', ') FROM pg_proc "
            "WHERE proname = ANY(%s)",
            (list(SIDE_EFFECT_FUNCTIONS),),
        ).scalar()
        connection.exec_driver_sql(f"REVOKE EXECUTE ON FUNCTION {signatures} FROM PUBLIC")
        connection.exec_driver_sql(f"GRANT pg_write_server_files TO {POSTGRES_UNSAFE_ROLE}")
        connection.exec_driver_sql(
            "GRANT EXECUTE ON FUNCTION pg_terminate_backend(integer, bigint), "
            f"pg_cancel_backend(integer), pg_advisory_lock(bigint) TO {POSTGRES_UNSAFE_ROLE}"
        )
        connection.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (ROLES_LOCK,))
    engine.dispose()


def running_stack(local: LocalStack) -> Iterator[LocalStack]:
    """The one lifecycle of every full-stack fixture: `up`, the test's use, `down`. A stack
    that does not come up fails the tests that need it, with up's output."""
    try:
        local.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def stack_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The session stack's redis-server (AOF on, everysec, as the embedded one)."""
    server = RedisServer(tmp_path_factory.mktemp("stack-redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, stack_redis: RedisServer
) -> Iterator[LocalStack]:
    local = LocalStack(
        home=tmp_path_factory.mktemp("vokaflow-home"),
        port=int(os.environ.get("VOKAFLOW_TEST_PORT", "8799")),
        ray_port=int(os.environ.get("VOKAFLOW_TEST_RAY_PORT", "6391")),
        dashboard_port=int(os.environ.get("VOKAFLOW_TEST_DASHBOARD_PORT", "8266")),
        settings={**TEST_SETTINGS, **FAULT_SETTINGS, "VOKAFLOW_REDIS_URL": stack_redis.url},
        key_prefix="vftest-" + os.urandom(4).hex(),
    )
    ensure_postgres_role()
    yield from running_stack(local)


@pytest.fixture(scope="session")
def data_root(stack: LocalStack) -> Path:
    """The stack's data root (VOKAFLOW_HOME/data): where functions' file paths must lie."""
    root = stack.home / "data"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


@pytest.fixture(scope="session")
def tier_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The project's own embedded redis-server, for the Redis and API tiers (no Ray)."""
    embedded = EmbeddedRedis(tmp_path_factory.mktemp("tier-redis"))
    try:
        yield embedded.start()
    finally:
        embedded.stop()
