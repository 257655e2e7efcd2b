"""A task's life outside the scheduler's loop: one owner for its end (ending.py) and the
log entries an end leaves (task_logs.py). Built from stores and ports, without Ray, so
the scheduler, the batch coordinator and the API all end tasks the same way."""
