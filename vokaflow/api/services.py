"""What a gateway replica holds: settings, stores, the registry, and short-lived caches."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

from vokaflow import tracing
from vokaflow.api.tokens import looks_like_jwt, verify
from vokaflow.config import Settings
from vokaflow.domain import Priority, WorkerType
from vokaflow.domain.pool import start_delay_s
from vokaflow.domain.principal import Principal
from vokaflow.domain.task import TaskField, task_owner
from vokaflow.errors import NotFound, ServiceUnavailable
from vokaflow.failpoints import Failpoints
from vokaflow.functions import FunctionRegistry, registry
from vokaflow.functions.data_roots import ScopedContexts
from vokaflow.functions.plugins import load_plugins
from vokaflow.lifecycle.ending import TaskEnding
from vokaflow.observability.prometheus import finished_counter
from vokaflow.store.api_keys import ApiKeyStore, NameRefused
from vokaflow.store.auth_failures import AuthFailureLimiter
from vokaflow.store.batch_store import BatchStore
from vokaflow.store.category_stats import CategoryStats
from vokaflow.store.chat_sessions import ChatSessions
from vokaflow.store.console_sessions import ConsoleSessions
from vokaflow.store.dead_letters import DeadLetterStore
from vokaflow.store.dispatch_store import DispatchStore
from vokaflow.store.events import EventLog
from vokaflow.store.keys import Keys
from vokaflow.store.logs import LogStore
from vokaflow.store.metrics_store import MetricsStore
from vokaflow.store.rate_limits import RateLimiter, RedisRateLimiter
from vokaflow.store.redis_client import anonymous_node, connect, is_cluster, node_of
from vokaflow.store.task_index import TaskIndex
from vokaflow.store.task_store import TaskStore
from vokaflow.store.trained_models import TrainedModelsReader
from vokaflow.store.workflow_store import WorkflowStore
from vokaflow.vicky.catalog import ModelCatalog
from vokaflow.vicky.client import VickyClient

DEFAULT_ESTIMATE_S = 1.0
MAX_CACHED_PRINCIPALS = 10_000  # credentials seen within the cache time; past it, start over
STATS_REFRESH_S = 1.0  # the scheduler's heartbeat: a slot's end is seen within about this
DRAINING_REFRESH_S = 0.5


@dataclass
class _Cached:
    """Values read from Redis at most every STATS_REFRESH_S by one replica."""

    function_avg_s: dict[str, float] = field(default_factory=dict)
    pool_capacity: dict[WorkerType, int] = field(default_factory=dict)
    busy_until: dict[WorkerType, list[float]] = field(default_factory=dict)
    refreshed_at: float = float("-inf")


class Services:
    def __init__(self, settings: Settings, redis_url: str, functions: FunctionRegistry = registry):
        self.settings = settings
        tracing.configure(settings, "vokaflow-gateway")
        self.keys = Keys(settings.key_prefix, settings.partitions)
        self.redis = connect(redis_url)
        self.cluster = is_cluster(self.redis)  # asked once: an isinstance of a union is slow
        self.tasks = TaskStore(self.redis, self.keys, settings.task_retention_s)
        self.api_keys = ApiKeyStore(self.redis, self.keys)
        self.dead_letters = DeadLetterStore(self.redis, self.keys, settings.task_retention_s)
        self.batches = BatchStore(self.redis, self.keys, settings.task_retention_s)
        self.workflows = WorkflowStore(self.redis, self.keys, settings.task_retention_s)
        self.task_index = TaskIndex(self.redis, self.keys)
        self.metrics = MetricsStore(self.redis, self.keys)
        self.events = EventLog(self.redis, self.keys)
        self.logs = LogStore(self.redis, self.keys, settings.task_retention_s)
        self.category_stats = CategoryStats(self.redis, self.keys)
        self.dispatch = DispatchStore(self.redis, self.keys, settings.task_retention_s)
        self.ending = TaskEnding(  # a batch moves on in the scheduler, told by batches.notify
            dispatch=self.dispatch,
            tasks=self.tasks,
            batches=self.batches,
            logs=self.logs,
            category_stats=self.category_stats,
            events=self.events,
            metrics=finished_counter(),
        )
        self.models = ModelCatalog(TrainedModelsReader(self.redis, self.keys))
        self.vicky = VickyClient(self.models, settings.vicky_request_timeout_s)
        self.console_sessions = ConsoleSessions(self.redis, self.keys)
        self.chat_sessions = ChatSessions(self.redis, self.keys, settings.vicky_session_ttl_s)
        self.auth_failures = AuthFailureLimiter(
            self.redis, self.keys, settings.auth_failure_limit, settings.auth_failure_window_s
        )
        self.rate_limiter: RateLimiter = RedisRateLimiter(
            self.redis, self.keys, settings.limit_table
        )
        load_plugins(settings.plugin_modules)
        self.functions = functions
        # armed only where the settings say they are a test's: never by a slip in production
        self.failpoints = Failpoints(settings.failpoints if settings.environment == "test" else [])
        self._argument_contexts = ScopedContexts(settings)
        self.started_at = time.time()
        psutil.cpu_percent(interval=None)  # the first reading is meaningless: take it now
        self._principals: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._cached = _Cached()
        self._draining = (False, float("-inf"))  # (flag, when read)

    async def ensure_accepting(self) -> None:
        """503 while `vokaflow down` drains the service. The flag is read at most every
        DRAINING_REFRESH_S; `down` waits longer than that before it stops anything."""
        draining, read_at = self._draining
        if time.monotonic() - read_at >= DRAINING_REFRESH_S:
            draining = await self.tasks.draining()
            self._draining = (draining, time.monotonic())
        if draining:
            raise ServiceUnavailable(
                "vokaflow", "The service is shutting down and takes no new tasks", 60.0
            )

    def redis_node(self, partition: int, principal: Principal) -> str:
        """The Redis node that holds ``partition``: for an admin its cluster node's host:port,
        for others node_N (its place among the primaries); node_0 on a single Redis."""
        if not self.cluster:
            return "node_0"
        node = node_of(self.redis, self.keys.task_prefix(partition))
        return node if principal.is_admin else anonymous_node(self.redis, node)

    async def principal_for(self, credential: str) -> Principal | None:
        """The principal of an API key or a JWT; None for one that is unknown, revoked,
        invalid, or whose name belongs to a principal of the other role. Kept for
        VOKAFLOW_API_KEY_CACHE_S."""
        return await self._cached_principal(("credential", credential), self._authenticate)

    async def principal_for_key_digest(self, key_hash: str) -> Principal | None:
        """The same, for the key with this digest: a console session keeps no key itself.
        Cached apart from credentials, so a digest is never taken for a credential."""
        return await self._cached_principal(("digest", key_hash), self.api_keys.lookup_digest)

    async def principal_for_signed_in_token(self, claims_json: str) -> Principal | None:
        """A JWT's principal from what a console session kept of it (its verified claims,
        not the token): None once it has expired, or when its name no longer holds its role."""
        return await self._cached_principal(("token", claims_json), self._from_token_claims)

    async def _from_token_claims(self, claims_json: str) -> Principal | None:
        claims = json.loads(claims_json)
        if float(claims["exp"]) <= time.time():
            return None
        cap = claims.get("max_priority")
        principal = Principal(
            str(claims["name"]), str(claims["role"]), Priority(cap) if cap else None
        )
        try:
            await self.api_keys.check_name(principal.name, principal.role)
        except NameRefused:
            return None
        return principal

    async def _cached_principal(
        self,
        cache_key: tuple[str, str],
        authenticate: Callable[[str], Awaitable[Principal | None]],
    ) -> Principal | None:
        hit = self._principals.get(cache_key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = await authenticate(cache_key[1])
        if principal is not None and self.settings.api_key_cache_s > 0:
            if len(self._principals) >= MAX_CACHED_PRINCIPALS:
                self._principals.clear()
            self._principals[cache_key] = (now + self.settings.api_key_cache_s, principal)
        return principal

    async def _authenticate(self, credential: str) -> Principal | None:
        if not looks_like_jwt(credential):
            return await self.api_keys.lookup(credential)
        principal = verify(credential, self.settings)
        if principal is None:
            return None
        try:
            await self.api_keys.check_name(principal.name, principal.role)
        except NameRefused:
            return None
        return principal

    def argument_context(self, principal: Principal) -> dict[str, Any]:
        """What argument validators check a principal's task against: the data roots are
        scoped to the principal (see vokaflow.functions.data_roots)."""
        return self._argument_contexts.for_scope(principal.data_scope)

    async def visible_record(self, task_id: str, principal: Principal) -> dict[str, Any]:
        """The task's record, or 404 when there is none or it is another principal's (as if
        it did not exist)."""
        record = await self.tasks.get(task_id)
        if record is None or not principal.may_see(task_owner(record[TaskField.SPEC])):
            raise NotFound(f"Task '{task_id}' not found")
        return record

    async def pool_capacity(self, worker_type: WorkerType) -> int:
        await self._refresh_stats()
        return max(1, self._cached.pool_capacity.get(worker_type, 1))

    async def _refresh_stats(self) -> None:
        if time.monotonic() - self._cached.refreshed_at < STATS_REFRESH_S:
            return
        self._cached.refreshed_at = time.monotonic()
        self._cached.function_avg_s, states = await asyncio.gather(
            self.tasks.function_averages(), self.tasks.pool_states()
        )
        self._cached.pool_capacity = {wt: int(s.get("capacity", 1)) for wt, s in states.items()}
        self._cached.busy_until = {wt: s.get("busy_until", []) for wt, s in states.items()}

    async def estimated_start_s(
        self,
        worker_type: WorkerType,
        function_name: str,
        ahead: int,
        *,
        one_at_a_time: bool = False,
    ) -> float:
        """How long until the task starts, once ready (domain.pool.start_delay_s): the
        slots of the pool's measured capacity free when the scheduler expects (a slot held
        by a long task holds even an EMERGENCY one back), and the tasks ahead fill them in
        rounds of the function's measured mean run time. The one model behind
        estimated_start, estimated_completion (one mean run more) and SLA admission."""
        await self._refresh_stats()
        mean_run_s = self.mean_run_s(function_name)
        if one_at_a_time:
            return start_delay_s(ahead, 1, mean_run_s)
        now = time.time()
        busy_for_s = [until - now for until in self._cached.busy_until.get(worker_type, [])]
        return start_delay_s(ahead, await self.pool_capacity(worker_type), mean_run_s, busy_for_s)

    def mean_run_s(self, function_name: str) -> float:
        return self._cached.function_avg_s.get(function_name, DEFAULT_ESTIMATE_S)

    async def close(self) -> None:
        await self.redis.aclose()
