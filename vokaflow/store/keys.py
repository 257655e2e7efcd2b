"""Every Redis key name, all under one prefix.

Per-task keys carry a ``{pN}`` hash tag for their partition, so that on Redis Cluster a
partition's task records, queues and running set share one slot and each Lua script
touches a single partition.
"""

from __future__ import annotations

import hashlib
import zlib

from vokaflow.domain import WorkerType


def owner_digest(owner: str) -> str:
    """A principal's name as a key part: names may hold the separator, and one principal's
    keys must never be another's."""
    return hashlib.sha256(owner.encode()).hexdigest()[:32]


def index_digest(name: str) -> str:
    """A principal's or a function's name as a part of a task index key: the first 16 hex
    digits of its SHA-1, which the scripts compute too (lib/task_index.lua, from the record
    alone when a task ends). A collision would only put two names' tasks in one zset: every
    search checks each record's owner and filters itself."""
    return hashlib.sha1(name.encode()).hexdigest()[:16]


def partition_of(task_id: str, partitions: int) -> int:
    """Stable across processes and versions (CRC-32), unlike Python's ``hash``."""
    return zlib.crc32(task_id.encode()) % partitions


class Keys:
    def __init__(self, prefix: str, partitions: int) -> None:
        self.prefix = prefix
        self.partitions = partitions

    def partition(self, task_id: str) -> int:
        return partition_of(task_id, self.partitions)

    def _tagged(self, partition: int) -> str:
        return f"{self.prefix}:{{p{partition}}}"

    def partition_prefix(self, partition: int) -> str:
        """What every key of the partition begins with: scripts that reach several kinds of
        its keys by name (lib/concurrency.lua) take this."""
        return f"{self._tagged(partition)}:"

    def task_prefix(self, partition: int) -> str:
        return f"{self._tagged(partition)}:task:"

    def task(self, task_id: str) -> str:
        return self.task_prefix(self.partition(task_id)) + task_id

    def queue_prefix(self, partition: int) -> str:
        return f"{self._tagged(partition)}:queue:"

    def queue(self, partition: int, worker_type: WorkerType) -> str:
        return self.queue_prefix(partition) + worker_type.value

    def task_log(self, task_id: str) -> str:
        """List of a task's captured output and retries, as JSON lines (in its partition's slot)."""
        return f"{self._tagged(self.partition(task_id))}:log:{task_id}"

    @property
    def system_log(self) -> str:
        """Stream of the service's own log records (gateway, scheduler, webhooks), capped."""
        return f"{self.prefix}:logs:service"

    @property
    def task_event_log(self) -> str:
        """Stream of every task's failures, timeouts and retries, capped; admins read it."""
        return f"{self.prefix}:logs:tasks"

    def owner_log(self, owner: str) -> str:
        """Stream of one principal's task failures, timeouts and retries, capped."""
        return f"{self.prefix}:logs:owner:{owner}"

    def running(self, partition: int) -> str:
        return f"{self._tagged(partition)}:running"

    def fair_prefix(self, partition: int) -> str:
        return f"{self._tagged(partition)}:fair:"

    def fair(self, partition: int, worker_type: WorkerType, level: int) -> str:
        """Zset of where each principal's ready tasks of one pool and level end in the
        partition's fair order (lib/fair_score.lua)."""
        return f"{self.fair_prefix(partition)}{worker_type.value}:{level}"

    def waiting(self, partition: int) -> str:
        """Zset of the partition's tasks waiting for their parents, by when a sweep next
        checks their parents (ms)."""
        return f"{self._tagged(partition)}:waiting"

    def children(self, task_id: str) -> str:
        """Set of the ids of a task's waiting children (in the task's partition's slot)."""
        return f"{self._tagged(self.partition(task_id))}:children:{task_id}"

    def parents_ended(self, task_id: str) -> str:
        """Set of the ids of a waiting task's parents that ended (in its partition's slot)."""
        return f"{self._tagged(self.partition(task_id))}:deps-done:{task_id}"

    def delayed(self, partition: int) -> str:
        """Zset of the partition's retries waiting out their backoff, by due time (ms)."""
        return f"{self._tagged(partition)}:delayed"

    def scheduled(self, partition: int) -> str:
        """Zset of the partition's delayed tasks (status scheduled), by run_at (ms). Apart
        from the retries so that nothing counting those counts these; release_due.lua moves
        both on."""
        return f"{self._tagged(partition)}:scheduled"

    def dead_letters(self, partition: int) -> str:
        """Zset of the partition's tasks that failed after all retries, by failure time (ms)."""
        return f"{self._tagged(partition)}:dead"

    def owner_dead_letters(self, partition: int, owner: str) -> str:
        """The same, for one owner's tasks only (lib/owner_dead_letters.lua names it too)."""
        owner_sha1 = hashlib.sha1(owner.encode()).hexdigest()
        return f"{self.dead_letters(partition)}:owner:{owner_sha1}"

    @property
    def owner_dead_letters_indexed(self) -> str:
        """Set once the dead letters from before per-owner indexes are in them."""
        return f"{self.prefix}:dead:owners-indexed"

    # The task search indexes (store/task_index.py, kept by lib/task_index.lua): zsets of
    # task ids by creation time (ms), in each partition's slot so that the scripts that
    # create and end a task keep them in the same step.
    def _index(self, partition: int) -> str:
        return f"{self._tagged(partition)}:ix:"

    def index_ledger(self, partition: int) -> str:
        """Every task of the partition, member 'OWNER:FUNCTION:ID' (index digests): the
        admins' list, and what the trim reads to find every index a gone task is in."""
        return f"{self._index(partition)}all"

    def index_owner(self, partition: int, owner: str) -> str:
        """Every task of one principal."""
        return f"{self._index(partition)}o:{index_digest(owner)}"

    def index_live(self, partition: int, owner: str | None) -> str:
        """The tasks not finished yet (scheduled, waiting, queued, running): of one
        principal, or of everyone for None. Kept at create and end only, not at each
        transition between those four."""
        if owner is None:
            return f"{self._index(partition)}live"
        return f"{self.index_owner(partition, owner)}:live"

    def index_status(self, partition: int, status: str, owner: str | None) -> str:
        """The finished tasks of one final status: of one principal, or of everyone."""
        if owner is None:
            return f"{self._index(partition)}s:{status}"
        return f"{self.index_owner(partition, owner)}:s:{status}"

    @property
    def task_index_backfilled(self) -> str:
        """Set once the records from before the task indexes are in them."""
        return f"{self.prefix}:ix:backfilled"

    def workflow(self, workflow_id: str) -> str:
        return f"{self.prefix}:workflow:{workflow_id}"

    def recent(self, kind: str, owner: str | None) -> str:
        """Zset of the ids of one kind of record ("batches", "workflows") by creation time
        (epoch s): of one owner, or (None) of everyone (store/recent.py)."""
        who = "all" if owner is None else "owner:" + owner_digest(owner)
        return f"{self.prefix}:recent:{kind}:{who}"

    def batch(self, batch_id: str) -> str:
        return f"{self.prefix}:{{b:{batch_id}}}:batch"

    def batch_tasks(self, batch_id: str) -> str:
        return f"{self.prefix}:{{b:{batch_id}}}:tasks"

    def batch_held(self, batch_id: str) -> str:
        return f"{self.prefix}:{{b:{batch_id}}}:held"

    @property
    def running_batches(self) -> str:
        """Set of the ids of batches not closed yet: a restarted scheduler recounts them."""
        return f"{self.prefix}:batches:running"

    @property
    def batches_submitting(self) -> str:
        """Zset of batches begun but not yet committed, by when they began (epoch s)."""
        return f"{self.prefix}:batches:submitting"

    @property
    def batch_deadlines(self) -> str:
        return f"{self.prefix}:batches:deadlines"

    @property
    def batch_channel(self) -> str:
        return f"{self.prefix}:events:batch"

    def rate_bucket(self, category: str) -> str:
        return f"{self.prefix}:{{rl:{category}}}:bucket"

    def rate_usage_prefix(self, category: str) -> str:
        """Per-second admitted counts: this prefix + the epoch second."""
        return f"{self.prefix}:{{rl:{category}}}:usage:"

    def rate_totals(self, category: str) -> str:
        """Hash of the category's all-time `admitted` and `refused` counts (take_tokens.lua)."""
        return self.rate_usage_prefix(category) + "totals"

    def owner_rate_usage_prefix(self, category: str, owner: str) -> str:
        """The same counts as rate_usage_prefix, for one principal's tasks (same slot)."""
        return f"{self.prefix}:{{rl:{category}}}:owner:{owner_digest(owner)}:"

    def category_stats(self, category: str, owner: str | None = None) -> str:
        """Hash of the category's outcome counts and `exec_total_s` of completed runs: of
        every principal's tasks, or of ``owner``'s."""
        everyone = f"{self.prefix}:stats:category:{category}"
        return everyone if owner is None else f"{everyone}:owner:{owner_digest(owner)}"

    def api_key(self, key_hash: str) -> str:
        return f"{self.prefix}:apikey:{key_hash}"

    @property
    def api_key_index(self) -> str:
        return f"{self.prefix}:apikeys"

    @property
    def principal_roles(self) -> str:
        """Hash: principal name -> the one role ("admin" or "user") its credentials hold."""
        return f"{self.prefix}:principals:roles"

    def auth_failures(self, client: str, window: int) -> str:
        """Count of failed authentications from ``client`` in fixed window number ``window``."""
        return f"{self.prefix}:authfail:{client}:{window}"

    @property
    def scheduler_heartbeat(self) -> str:
        return f"{self.prefix}:scheduler:heartbeat"

    @property
    def pool_states(self) -> str:
        """Hash: worker type -> JSON {capacity, active, target, mean_task_s}, from the scheduler."""
        return f"{self.prefix}:scheduler:pools"

    @property
    def node_stats(self) -> str:
        """Hash: Ray node id -> JSON psutil reading of that node, from the scheduler."""
        return f"{self.prefix}:scheduler:nodes"

    def completions_prefix(self) -> str:
        """Per-second counts of tasks that reached a final state: this prefix + epoch second."""
        return f"{self.prefix}:{{stats}}:finished:"  # one slot: read back with one MGET

    def sla_starts(self, minute: int) -> str:
        """Hash of one minute's first starts per priority: PRIORITY:started and
        PRIORITY:late (past its SLA), counted by the scheduler (the console's attainment)."""
        return f"{self.prefix}:stats:sla:{minute}"

    @property
    def function_stats(self) -> str:
        """Hash: FUNCTION:count and FUNCTION:total_s of completed runs."""
        return f"{self.prefix}:stats:functions"

    @property
    def ml_models(self) -> str:
        """Hash: model entry -> JSON {sha256, path, trained_at} of the ml models this service
        trained. See vokaflow.store.task_services.ModelRecords."""
        return f"{self.prefix}:ml:models"

    @property
    def trained_models(self) -> str:
        """Hash: internal model id -> JSON entry of a model fine-tuned by vicky_training
        (owner, name, task; the spec once served). See vokaflow.vicky.trained."""
        return f"{self.prefix}:vicky:models"

    def chat_session(self, owner: str, session_id: str) -> str:
        """List of a chat session's messages as JSON, oldest first, with a TTL."""
        return f"{self.prefix}:vicky:session:{owner_digest(owner)}:{session_id}"

    def tenant_space(self, owner: str) -> str:
        """The start of every key a principal's task functions may write (streams, channels):
        nothing of the service's own starts so, nor any other principal's. One slot each."""
        return f"{self.prefix}:{{t:{owner_digest(owner)}}}"

    @property
    def draining(self) -> str:
        """Set while `vokaflow down` drains the service: submits get 503."""
        return f"{self.prefix}:draining"

    @property
    def wakeup_channel(self) -> str:
        return f"{self.prefix}:events:wakeup"

    @property
    def cancel_channel(self) -> str:
        return f"{self.prefix}:events:cancel"

    @property
    def event_stream(self) -> str:
        """Stream of task and batch events for principals with webhooks (see store/events)."""
        return f"{self.prefix}:events:stream"

    @property
    def webhook_owners(self) -> str:
        """Set of the principals that have at least one webhook: only their events are kept."""
        return f"{self.prefix}:webhooks:owners"

    @property
    def webhooks_channel(self) -> str:
        """Published to when webhooks change, so that emitters refresh their owner set."""
        return f"{self.prefix}:events:webhooks"

    @property
    def event_group(self) -> str:
        """The webhook dispatcher's consumer group on event_stream."""
        return "webhook-dispatcher"

    def webhook(self, webhook_id: str) -> str:
        """Hash: url, events (JSON), secret, owner, created_at."""
        return f"{self.prefix}:webhook:{webhook_id}"

    def webhook_deliveries(self, webhook_id: str) -> str:
        """List of a webhook's latest delivery attempts as JSON, newest first, capped."""
        return f"{self.prefix}:webhook:{webhook_id}:deliveries"

    def owner_webhooks(self, owner: str) -> str:
        """Set of the ids of one principal's webhooks."""
        return f"{self.prefix}:webhooks:by-owner:{owner}"

    @property
    def webhook_index(self) -> str:
        """Set of every webhook id, for admins."""
        return f"{self.prefix}:webhooks:all"

    # Schedules share one hash tag: a claim advances the schedule, records the fire and
    # queues it for submission in one script (store/schedules.py).
    def _schedules(self) -> str:
        return f"{self.prefix}:{{sched}}"

    def schedule(self, schedule_id: str) -> str:
        """Hash: spec (JSON), version, next_fire (epoch s, "" when none)."""
        return f"{self._schedules()}:schedule:{schedule_id}"

    def schedule_runs(self, schedule_id: str) -> str:
        """Zset of a schedule's latest fires, "FIRE|TASK_ID" by fire time, capped."""
        return f"{self._schedules()}:schedule:{schedule_id}:runs"

    @property
    def schedules_due(self) -> str:
        """Zset of the active schedules by next fire time: what the firer reads."""
        return f"{self._schedules()}:due"

    @property
    def schedule_fires(self) -> str:
        """Zset of claimed fires not yet submitted, "SCHEDULE_ID|FIRE" by when to try."""
        return f"{self._schedules()}:fires"

    @property
    def schedules_replicated(self) -> str:
        """A counter the firer bumps before WAIT, so that the WAIT covers every write the
        primary made before it (a connection's WAIT counts up to its own last write)."""
        return f"{self._schedules()}:replicated"

    def owner_schedules(self, owner: str) -> str:
        """Set of one principal's schedule ids (its size is the principal's cap)."""
        return f"{self._schedules()}:by-owner:{owner_digest(owner)}"

    @property
    def schedule_index(self) -> str:
        """Set of every schedule id, for admins."""
        return f"{self._schedules()}:all"

    def console_session(self, session_digest: str) -> str:
        """Hash of one console session (store/console_sessions.py), by the digest of the id
        its cookie holds: the id itself is never stored."""
        return f"{self.prefix}:console:session:{session_digest}"
