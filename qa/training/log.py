"""The trainers' progress lines: a time stamp, then the message (after a prefix naming the worker
process that wrote it, where there is one)."""
from __future__ import annotations

import time

_LOG_PREFIX = ""  # set in soup-member worker processes


def set_log_prefix(prefix: str) -> None:
    """Start every later line of this process with ``prefix`` (a soup member's worker process)."""
    global _LOG_PREFIX
    _LOG_PREFIX = prefix


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), _LOG_PREFIX + msg, flush=True)
