"""Process identity: a pid plus its start time, so a reused pid never looks like our process.

On Linux the start time is field 22 of /proc/PID/stat (clock ticks since boot), read without
psutil to keep `runs ls` light; elsewhere psutil's create_time is used.
"""
from __future__ import annotations

import sys


def start_token(pid: int) -> str | None:
    """An opaque token that differs between two processes that had the same pid."""
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            return None
        fields = stat[stat.rfind(b")") + 2:].split()
        return fields[19].decode() if len(fields) > 19 else None
    try:
        import psutil

        return repr(psutil.Process(pid).create_time())
    except Exception:
        return None


def is_alive(pid: int | None, token: str | None) -> bool:
    """True if `pid` runs and is the same process that recorded `token`."""
    if not pid or pid <= 0:
        return False
    current = start_token(pid)
    if current is None:
        return False
    if sys.platform.startswith("linux") and _is_zombie(pid):
        return False
    return token is None or current == token


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] in (b"Z", b"X")
