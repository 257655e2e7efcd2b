"""A task's priority: eight strictly ordered levels, each with its SLA, and the queue score
that orders ready tasks. The score is the priority's one stored truth (see ``TaskField``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, NamedTuple


class _PriorityInfo(NamedTuple):
    level: int
    sla_seconds: float
    description: str
    examples: tuple[str, ...]


class Priority(str, Enum):
    """Eight strictly ordered levels; a lower level is dispatched first."""

    EMERGENCY = "EMERGENCY"
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    NORMAL = "NORMAL"
    LOW = "LOW"
    BATCH = "BATCH"
    BACKGROUND = "BACKGROUND"
    MAINTENANCE = "MAINTENANCE"

    @property
    def level(self) -> int:
        return _PRIORITY_INFO[self].level

    @property
    def sla_seconds(self) -> float:
        return _PRIORITY_INFO[self].sla_seconds

    @property
    def description(self) -> str:
        return _PRIORITY_INFO[self].description

    @property
    def examples(self) -> list[str]:
        return list(_PRIORITY_INFO[self].examples)

    @classmethod
    def from_level(cls, level: int) -> Priority:
        return _PRIORITY_BY_LEVEL[level]

    @classmethod
    def from_score(cls, score: float) -> Priority:
        """The priority a queue score stands for: promotions included."""
        return cls.from_level(level_of_score(score))


_PRIORITY_INFO: dict[Priority, _PriorityInfo] = {
    Priority.EMERGENCY: _PriorityInfo(
        0, 0.1, "Emergencias críticas del sistema", ("system_failure", "security_breach")
    ),
    Priority.CRITICAL: _PriorityInfo(
        1, 0.5, "Tareas críticas de alta prioridad", ("user_facing_errors", "payment_processing")
    ),
    Priority.HIGH: _PriorityInfo(
        2, 2.0, "Tareas importantes con alta prioridad", ("real_time_analytics", "api_responses")
    ),
    Priority.NORMAL: _PriorityInfo(
        3, 10.0, "Tareas regulares del sistema", ("data_processing", "report_generation")
    ),
    Priority.LOW: _PriorityInfo(
        4, 30.0, "Tareas de baja prioridad", ("cleanup_tasks", "optimization")
    ),
    Priority.BATCH: _PriorityInfo(
        5, 300.0, "Procesamiento en lotes", ("bulk_operations", "data_migration")
    ),
    Priority.BACKGROUND: _PriorityInfo(6, 1800.0, "Tareas de fondo", ("backups", "maintenance")),
    Priority.MAINTENANCE: _PriorityInfo(
        7, 7200.0, "Tareas de mantenimiento", ("log_rotation", "cache_cleanup")
    ),
}
_PRIORITY_BY_LEVEL = {info.level: priority for priority, info in _PRIORITY_INFO.items()}

# A queue score orders by priority level first, then by enqueue time in ms. 2**41 ms reaches
# the year 2039; a double holds the sum exactly (3 + 41 bits < 53).
LEVEL_WEIGHT = float(2**41)


# The highest level a starvation promotion reaches (scheduler.policy.StarvationRule).
PROMOTION_CEILING = Priority.HIGH.level

# How far one task moves its principal along its level's fair clock (store/lua/lib/
# fair_score.lua): a principal's queued tasks are spread one quantum apart, another
# principal's next task lands between them.
FAIR_QUANTUM_MS = 1


def fair_window_ms(level: int) -> int:
    """How far before now a new task's fair place may lie. The starvation rule reads a
    task's wait off its score, and waits more than one SLA (factor > 1): within one SLA a
    task joining a late level is never promoted for a wait it did not have. Levels no
    promotion reaches take their place unbounded."""
    if level <= PROMOTION_CEILING:
        return 2**40
    return int(Priority.from_level(level).sla_seconds * 1000)


FAIR_WINDOWS_MS = [fair_window_ms(level) for level in range(len(Priority))]  # by level


def queue_score(priority: Priority, enqueued_at_s: float) -> float:
    return priority.level * LEVEL_WEIGHT + float(int(enqueued_at_s * 1000))


def level_of_score(score: float) -> int:
    return int(score // LEVEL_WEIGHT)


def level_upper_bound(level: int) -> float:
    """The highest score a task of ``level`` can have (scores are whole numbers)."""
    return (level + 1) * LEVEL_WEIGHT - 1


class LevelBacklog(NamedTuple):
    """One partition's ready tasks of one pool, per priority level: how many, and where the
    first one stands in its level (its score less the level's base, ms; 0 when none)."""

    counts: Sequence[int]
    heads: Sequence[int]


def queued_per_priority(backlogs: Mapping[Any, Mapping[int, LevelBacklog]]) -> dict[Priority, int]:
    """Ready tasks per priority, from backlogs by pool, then partition (what the store's
    level count answers)."""
    queued = dict.fromkeys(Priority, 0)
    for per_partition in backlogs.values():
        for backlog in per_partition.values():
            for level, n in enumerate(backlog.counts):
                queued[Priority.from_level(level)] += n
    return queued
