"""What a task function prints or logs while it runs, kept as bounded log lines."""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Iterator
from typing import Any, TextIO

MAX_LINES = 200
MAX_LINE_CHARS = 2000


class CapturedOutput:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.dropped = 0

    @property
    def full(self) -> bool:
        return len(self.lines) >= MAX_LINES

    def add(self, level: str, source: str, message: str) -> None:
        message = message.rstrip("\n")
        if not message:
            return
        if self.full:
            self.dropped += 1
            return
        line = {"ts": time.time(), "level": level, "source": source}
        line["message"] = message[:MAX_LINE_CHARS]
        self.lines.append(line)

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
    """A text stream that turns each written line into a captured line.

    It stands in for sys.stdout or sys.stderr, so it answers what code expects of them:
    ``encoding``, ``buffer`` (bytes are decoded into it) and ``fileno`` (the real stream's:
    what is written to the descriptor directly is not captured, but nothing breaks). A
    carriage return starts the line over, as a terminal would (progress bars)."""

    def __init__(self, sink: OutputSink, level: str, source: str, real: TextIO) -> None:
        super().__init__()
        self.sink = sink
        self.level = level
        self.source = source
        self.real = real
        self.pending = ""
        self.buffer = _BytesInto(self)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "replace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.real.fileno()

    def write(self, text: str) -> int:
        *complete, last = text.split("\n")
        for line in complete:
            self._end_line(self.pending + line)
            self.pending = ""
        if "\r" in last:
            last = last.rsplit("\r", 1)[1]
            self.pending = ""
        self.pending = (self.pending + last)[:MAX_LINE_CHARS]
        return len(text)

    def _end_line(self, line: str) -> None:
        if "\r" in line:
            line = line.rsplit("\r", 1)[1]
        self.sink.output.add(self.level, self.source, line)

    def flush(self) -> None:
        if self.pending:
            self._end_line(self.pending)
            self.pending = ""


class _BytesInto(io.RawIOBase):
    """``sys.stdout.buffer`` for a captured stream: bytes are decoded as UTF-8."""

    def __init__(self, writer: _LineWriter) -> None:
        super().__init__()
        self.writer = writer

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.writer.write(bytes(data).decode("utf-8", errors="replace"))
        return len(data)


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
    import sys

    sink = OutputSink()
    stdout = _LineWriter(sink, "INFO", "stdout", sys.stdout)
    stderr = _LineWriter(sink, "ERROR", "stderr", sys.stderr)
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
