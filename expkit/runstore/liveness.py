"""Is the process that wrote a run still alive? A pid alone is not enough: pids are reused, so run.json
also records the host and the process's start time (the kernel's `starttime`, in clock ticks since
boot, from /proc/<pid>/stat), and a run counts as alive only when all three still match."""
from __future__ import annotations

import os
import platform


def process_start(pid: int) -> int | None:
    """The start time of process `pid` in clock ticks since boot, or None when no such process runs
    (or it is a zombie: killed, not yet reaped). None as well where /proc does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    fields = text[text.rfind(")") + 2:].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def this_process() -> dict:
    """What run.json records to recognise this process later."""
    pid = os.getpid()
    return {"pid": pid, "host": platform.node(), "process_start": process_start(pid)}


def process_gone(info: dict) -> bool:
    """True when the process recorded in `info` (pid, host, process_start) has surely ended: same host,
    and no process with that pid, or one that started at another time. A run from another host, or
    without a pid, is never called gone (it cannot be checked from here)."""
    pid = info.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or info.get("host") != platform.node():
        return False
    if os.path.isdir("/proc"):
        started = process_start(pid)
        if started is None:
            return True
        recorded = info.get("process_start")
        return isinstance(recorded, int) and recorded != started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False
