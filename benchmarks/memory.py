"""Peak memory of a benchmark's own process."""

from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """This process's peak resident memory. Not `getrusage`: Linux keeps ru_maxrss across
    exec, so a spawned child would report its parent's peak (the insert's) whenever larger."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
