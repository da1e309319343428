"""The process's limit on open files, raised so that many WebSockets fit."""

from __future__ import annotations

import resource


def raise_open_file_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit (each WebSocket is a file); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):  # above what the kernel allows: keep the soft limit
            return soft
        return wanted
    return soft
