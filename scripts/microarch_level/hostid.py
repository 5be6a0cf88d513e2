"""Print, as JSON, what archspec and rattler detect on this host.

Run in a process that sees a CPU sample as /proc/cpuinfo (cpuinfo.mounted) to
learn both answers for that CPU without trusting any hand-written expectation.
"""

from __future__ import annotations

import json
import sys


def detect() -> dict[str, str | None]:
    import archspec.cpu
    from rattler import VirtualPackage

    rattler_name = None
    for vp in VirtualPackage.detect():
        generic = vp.into_generic()
        if generic.name.normalized == "__archspec":
            rattler_name = str(generic.build_string)
    return {"archspec": archspec.cpu.host().name, "rattler": rattler_name}


if __name__ == "__main__":
    json.dump(detect(), sys.stdout)
    sys.stdout.write("\n")
