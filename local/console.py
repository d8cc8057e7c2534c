"""Service output: log files, the prefixed console, and the supervisor's own lines.

Each service's stdout/stderr goes to its log file and, optionally, to the console with its
name as a (coloured, on a terminal) prefix. Whole lines only: a service's line and the
supervisor's own lines never interleave.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import IO

LOG_TAIL_LINES = 40
COLORS = (b"\x1b[36m", b"\x1b[33m", b"\x1b[35m", b"\x1b[32m", b"\x1b[34m", b"\x1b[31m")

_CONSOLE_LOCK = threading.Lock()


def tail_file(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def console_write(console: IO[bytes], line: bytes) -> None:
    """Write one whole line: service output and the supervisor's own lines never interleave."""
    with _CONSOLE_LOCK:
        console.write(line if line.endswith(b"\n") else line + b"\n")
        console.flush()


def say(text: str) -> None:
    """Print the supervisor's own line(s) to stdout without tearing a service's line apart.

    ``print`` writes the text and its newline as two writes when stdout is unbuffered
    (``PYTHONUNBUFFERED``), and a pump thread's line could land between them.
    """
    sys.stdout.flush()
    console = getattr(sys.stdout, "buffer", None)
    if console is None:  # a replaced stdout (tests capturing text)
        print(text, flush=True)
        return
    console_write(console, text.encode())


def pump(stream: IO[bytes], log_file: IO[bytes], prefix: bytes, console: IO[bytes] | None) -> None:
    """Copy a service's output to its log file and, prefixed, to the console."""
    try:
        for line in iter(stream.readline, b""):
            log_file.write(line)
            log_file.flush()
            if console is None:
                continue
            with contextlib.suppress(OSError, ValueError):  # a closed console loses nothing
                console_write(console, prefix + line)
    except (OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def console_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def line_prefix(name: str, index: int) -> bytes:
    """``name`` padded, then ``|``; coloured by the service's position on a terminal."""
    color = COLORS[index % len(COLORS)] if console_is_tty() else b""
    reset = b"\x1b[0m" if color else b""
    return color + name.encode().ljust(15) + b"|" + reset + b" "
