"""What this machine can hold, so a size read from a config or a file header is checked before it is
allocated: `units: 1.0e+12` or a 200-byte .npy declaring 10^12 values is an error, not a crash or an
out-of-memory kill that takes other work down with it."""
from __future__ import annotations

import os
from pathlib import Path


def memory_bytes() -> int:
    """Physical memory, or the container's limit when it is lower; EXPKIT_MEMORY_BYTES overrides both."""
    declared = os.environ.get("EXPKIT_MEMORY_BYTES", "").strip().replace("_", "")
    if declared.isdigit():
        return int(declared)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for cgroup in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(cgroup).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def human(nbytes: float) -> str:
    """8000000000000 -> '8.0 TB'."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if nbytes < 1000 or unit == "PB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1000
    raise AssertionError("unreachable")


def over_memory(nbytes: int) -> str | None:
    """None when `nbytes` fits in memory, else the end of an error message saying how much there is."""
    memory = memory_bytes()
    if nbytes <= memory:
        return None
    return (f"more than this machine's {human(memory)} of memory (set EXPKIT_MEMORY_BYTES to declare more, "
            "e.g. with swap)")
