"""The scheduler: claims ready tasks from Redis by priority and dispatches them on Ray."""

SCHEDULER_NAME = "vokaflow-scheduler"
