"""NodePort allocation: deterministic, collision-free across everything rendered.

Each (namespace, name, ordinal) prefers a port derived from a hash of its key, so adding an instance
does not shift the ports of others; collisions probe upwards in key order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

DEFAULT_RANGE = (30000, 32767)

PortKey = tuple[str, str, str]
"""(namespace, name, what): ``what`` is a pod ordinal ("0", "1", ...) or another member Service ("arbiter")."""


class PortsExhausted(Exception):
    """More member Services than ports in the range."""


def allocate(keys: Iterable[PortKey], port_range: tuple[int, int] = DEFAULT_RANGE,
             taken: Iterable[int] = ()) -> dict[PortKey, int]:
    low, high = port_range
    size = high - low + 1
    used = set(taken)
    wanted = sorted(set(keys))
    if len(wanted) + len(used) > size:
        raise PortsExhausted(f"{len(wanted)} member Services need NodePorts but {low}-{high} has "
                             f"{size - len(used)} free; widen the overlay's nodePorts range")
    out: dict[PortKey, int] = {}
    for key in wanted:
        digest = hashlib.sha256(f"{key[0]}/{key[1]}/{key[2]}".encode()).digest()
        offset = int.from_bytes(digest[:8], "big") % size
        while low + offset in used:
            offset = (offset + 1) % size
        out[key] = low + offset
        used.add(low + offset)
    return out
