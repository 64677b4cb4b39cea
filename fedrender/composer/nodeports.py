"""NodePort allocation: deterministic, collision-free across everything rendered.

Each (namespace, name, what) prefers a port derived from a hash of its key, so adding an instance
does not shift the ports of others; collisions probe upwards (wrapping at the top of the range) in key order.
Probing follows "next free port" links that are shortened as they are walked, so allocating n ports
in a range of m costs O(m + n) amortised (near-linear), not a scan of the taken ports per key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

DEFAULT_RANGE = (30000, 32767)
"""Kubernetes' default ``--service-node-port-range`` (kube-apiserver), inclusive."""

PortKey = tuple[str, str, str]
"""(namespace, name, what): ``what`` is a pod ordinal ("0", "1", ...) or another member Service ("arbiter")."""


class PortsExhausted(Exception):
    """More member Services than ports in the range.

    ``need``: ports the Services need (kept ones included); ``size``: ports in the range; ``unserved``: the
    keys left without a port, in the order they asked (key order, after every kept port)."""

    def __init__(self, need: int, size: int, unserved: Sequence[PortKey]) -> None:
        self.need = need
        self.size = size
        self.unserved = list(unserved)
        super().__init__(f"{need} member Services need NodePorts but the range has {size}")


def allocate(keys: Iterable[PortKey], port_range: tuple[int, int] = DEFAULT_RANGE,
             taken: Iterable[int] = ()) -> dict[PortKey, int]:
    """A port in ``port_range`` (inclusive) for each key, none of them in ``taken``; PortsExhausted when
    there are fewer free ports than keys (nothing is allocated then)."""
    low, high = port_range
    size = high - low + 1
    used = {port - low for port in taken if low <= port <= high}
    wanted = sorted(set(keys))
    free = size - len(used)
    if len(wanted) > free:
        raise PortsExhausted(len(wanted) + len(used), size, wanted[max(free, 0):])
    # next_free[o] == o: offset o is free; otherwise it links to a later offset (wrapping) to try next.
    next_free = list(range(size))
    for offset in used:
        next_free[offset] = (offset + 1) % size
    return {key: low + _claim(next_free, preferred(key) % size) for key in wanted}


def preferred(key: PortKey) -> int:
    """The key's hash, from which its preferred offset in a range is taken."""
    digest = hashlib.sha256(f"{key[0]}/{key[1]}/{key[2]}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _claim(next_free: list[int], offset: int) -> int:
    """The first free offset at or after ``offset`` (wrapping), marked taken; links walked are shortened."""
    root = offset
    while next_free[root] != root:
        root = next_free[root]
    while next_free[offset] != root:
        next_free[offset], offset = root, next_free[offset]
    next_free[root] = (root + 1) % len(next_free)
    return root
