"""Process-level facts: the server's memory and sockets, our own fd limit."""

from __future__ import annotations

import os
import resource


def read_status_kb(pid: int, field: str) -> int | None:
    """A ``kB`` field (VmRSS, VmHWM, ...) of /proc/<pid>/status, or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    kb = read_status_kb(pid, "VmRSS")
    return None if kb is None else round(kb / 1024.0, 2)


def hwm_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    kb = read_status_kb(pid, "VmHWM")
    return None if kb is None else round(kb / 1024.0, 2)


def open_fds(pid: int | None) -> int | None:
    """Number of open file descriptors of pid (needs same user or root)."""
    if pid is None:
        return None
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def threads(pid: int | None) -> int | None:
    if pid is None:
        return None
    return read_status_kb(pid, "Threads")


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds consumed so far by pid, from /proc/<pid>/stat."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # Fields after the parenthesised command name; utime and stime are 14 and 15.
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raise_nofile_limit(wanted: int | None = None) -> int:
    """Raise our soft RLIMIT_NOFILE towards the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if wanted is None else min(max(wanted, soft), hard)
    if hard == resource.RLIM_INFINITY and wanted is None:
        target = max(soft, 1 << 20)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
