"""What a task function prints or logs while it runs, kept as bounded log lines."""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Iterator
from typing import Any

MAX_LINES = 200
MAX_LINE_CHARS = 2000


class CapturedOutput:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.dropped = 0

    def add(self, level: str, source: str, message: str) -> None:
        message = message.rstrip("\n")
        if not message:
            return
        if len(self.lines) >= MAX_LINES:
            self.dropped += 1
            return
        self.lines.append(
            {
                "ts": time.time(),
                "level": level,
                "source": source,
                "message": message[:MAX_LINE_CHARS],
            }
        )

    def finish(self) -> list[dict[str, Any]]:
        if self.dropped:
            note = f"{self.dropped} more lines were not kept (limit {MAX_LINES} per attempt)"
            self.lines.append(
                {"ts": time.time(), "level": "WARNING", "source": "vokaflow", "message": note}
            )
        return self.lines


class OutputSink:
    """Where captured lines go: the output of the task running now."""

    def __init__(self) -> None:
        self.output = CapturedOutput()

    def next_task(self) -> CapturedOutput:
        self.output = CapturedOutput()
        return self.output


class _LineWriter(io.TextIOBase):
    """A text stream that turns each written line into a captured line."""

    def __init__(self, sink: OutputSink, level: str, source: str) -> None:
        self.sink = sink
        self.level = level
        self.source = source
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *complete, self.pending = self.pending.split("\n")
        for line in complete:
            self.sink.output.add(self.level, self.source, line)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.sink.output.add(self.level, self.source, self.pending)
            self.pending = ""


class _Handler(logging.Handler):
    def __init__(self, sink: OutputSink) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.output.add(record.levelname, record.name, self.format(record))
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def captured_output() -> Iterator[OutputSink]:
    """Capture stdout, stderr and log records at INFO and above for the block's duration,
    into the sink's current output; call ``next_task`` before each task of a chunk.

    A Ray worker runs one task at a time, so swapping the process's streams is safe. Set up
    once per chunk: a chunk may hold hundreds of tiny tasks."""
    sink = OutputSink()
    stdout, stderr = _LineWriter(sink, "INFO", "stdout"), _LineWriter(sink, "ERROR", "stderr")
    handler = _Handler(sink)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            yield sink
    finally:
        stdout.flush()
        stderr.flush()
        root.removeHandler(handler)
        root.setLevel(previous_level)
