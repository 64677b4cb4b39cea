"""Storage growth: each local member's PersistentVolumeClaims grow to the roster's size, one claim at a time.

Pure. The roster's ``spec.storage.claims`` (claim template name -> size) is what the renderer asks for; the
StatefulSet's ``volumeClaimTemplates`` keep the size it was created with (the API server refuses to change them:
``ValidateStatefulSetUpdate``). A StatefulSet names the claim of pod ``<sts>-<ordinal>`` from template ``<t>``
``<t>-<sts>-<ordinal>`` (Kubernetes docs, "StatefulSets", Stable Storage). For each local data member that is not
leaving, and each claim template:

* capacity (``status.capacity.storage``) at or above the size: resized;
* asked for already (``spec.resources.requests.storage`` at or above the size) but capacity below it: growing
  (the conditions ``Resizing`` while the volume grows, ``FileSystemResizePending`` while the node's kubelet has
  to grow the file system; Kubernetes docs, "Expanding Persistent Volumes Claims"). Nothing else is patched
  meanwhile: one claim grows at a time;
* below it: the claim's StorageClass must have ``allowVolumeExpansion: true`` (otherwise the admission plugin
  PersistentVolumeClaimResize refuses with "only dynamically provisioned pvc can be resized and the storageclass
  that provisions the pvc must support resize", ``plugin/pkg/admission/storage/persistentvolume/resize``), and the
  claim must be Bound ("Only bound persistent volume claims can be expanded"). Then :class:`ResizeClaim`, a merge
  patch of ``spec.resources.requests.storage``; else the claim is reported (``ExpansionNotAllowed``) and never
  patched. A claim never shrinks (core validation ``ValidatePersistentVolumeClaimUpdate``: "field can not be less
  than previous value"): a size below a claim's request is left alone, its capacity counts.

The operators do the same (Percona server for MongoDB ``resizeVolumesIfNeeded``: patch each claim, follow the
two conditions, refuse a shrink).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from reconciler.decide import Action, Noop, Roster

RESIZING = "Resizing"
FILE_SYSTEM_RESIZE_PENDING = "FileSystemResizePending"


@dataclass(frozen=True)
class Claim:
    """One local member's PersistentVolumeClaim as the API server has it (``found`` False: not created yet)."""

    name: str
    template: str
    host: str
    found: bool = True
    bound: bool = True
    requested: str = ""
    """``spec.resources.requests.storage``."""
    capacity: str = ""
    """``status.capacity.storage``."""
    storage_class: str = ""
    conditions: frozenset[str] = frozenset()
    """Types of the claim's conditions whose status is True (``Resizing``, ``FileSystemResizePending``)."""


@dataclass(frozen=True)
class Seen:
    """What the adapter read for one MongoReplicaSet: the sizes asked for, the local claims, and per storage
    class whether it allows expansion (None: the class does not exist or the claim names none)."""

    targets: Mapping[str, str] = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()
    expandable: Mapping[str, bool | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ResizeClaim(Action):
    claim: str
    size: str


@dataclass(frozen=True)
class Report:
    """``status.storage`` and the ``StorageResized`` condition of this cluster."""

    requested: str
    resized: int
    pending: int
    blocked: tuple[Claim, ...]
    growing: tuple[Claim, ...]
    patch: tuple[Claim, ...]
    capacity: Mapping[str, str]
    """host -> capacity of its first claim template's claim."""

    def condition(self) -> tuple[bool, str, str]:
        """(status, reason, message) of ``StorageResized``."""
        if self.blocked:
            classes = sorted({c.storage_class or "(none)" for c in self.blocked})
            return False, "ExpansionNotAllowed", (
                f"{', '.join(c.name for c in self.blocked)} cannot grow to {self.requested}: StorageClass "
                f"{', '.join(classes)} does not allow volume expansion (allowVolumeExpansion is not true, or the "
                "class is missing); set allowVolumeExpansion: true on it, or move the data to a class that does")
        if self.pending:
            growing = [f"{c.name} ({', '.join(sorted(c.conditions)) or 'asked'})" for c in self.growing]
            return False, "Resizing", (f"{self.resized} of {self.resized + self.pending} claims have "
                                       f"{self.requested}" + (f"; growing: {', '.join(growing)}" if growing else ""))
        return True, "Resized", f"every local claim has {self.requested}"


def claim_names(roster: Roster, ordinals: Mapping[int, int], statefulset: str,
                targets: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(claim template, claim name, member host) for each local data member that is not leaving (``ordinals``:
    member ``_id`` -> its pod ordinal) and each claim template of ``targets``, sorted by claim name."""
    out = [(template, f"{template}-{statefulset}-{ordinals[m.id]}", m.host) for m in roster.local()
           if not m.arbiter_only and not m.leaving and m.id in ordinals for template in targets]
    return sorted(out, key=lambda c: c[1])


_QUANTITY = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
                       r"(?:(?P<suffix>[KMGTPE]i|[numkMGTPE])|[eE](?P<exponent>[+-]?[0-9]{1,3}))?")
_POWERS: dict[str, Fraction | int] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "P": 10**15, "E": 10**18}


def _size(text: str) -> Fraction | None:
    """A storage size (a non-negative Kubernetes quantity, ``resource.ParseQuantity``'s forms) in bytes, exact;
    None when ``text`` is empty or no quantity (the reconciler does not import the renderer's parser)."""
    match = _QUANTITY.fullmatch(text.strip()) if text else None
    if match is None:
        return None
    number = Fraction(match.group("number"))
    if match.group("exponent"):
        return number * Fraction(10) ** int(match.group("exponent"))
    return number * Fraction(_POWERS.get(match.group("suffix") or "", 1))


def report(seen: Seen) -> Report | None:
    """Progress of the local claims; None when the roster asks for no size."""
    if not seen.targets:
        return None
    resized = pending = 0
    blocked: list[Claim] = []
    growing: list[Claim] = []
    patch: list[Claim] = []
    capacity: dict[str, str] = {}
    first = sorted(seen.targets)[0]
    for claim in seen.claims:
        if claim.template == first and claim.capacity:
            capacity[claim.host] = claim.capacity
        target = _size(seen.targets.get(claim.template, ""))
        have, asked = _size(claim.capacity), _size(claim.requested)
        if target is None:
            continue
        if claim.found and have is not None and have >= target:
            resized += 1
            continue
        pending += 1
        if not claim.found or not claim.bound:
            continue  # the StatefulSet creates it (with the template's size), it binds, then it grows
        if asked is not None and asked >= target:
            growing.append(claim)
        elif seen.expandable.get(claim.storage_class) is not True:
            blocked.append(claim)
        else:
            patch.append(claim)
    return Report(seen.targets[first], resized, pending, tuple(blocked), tuple(growing), tuple(patch), capacity)


def next_action(seen: Seen) -> Action:
    """Patch the next claim that may grow, while none is growing; Noop with why otherwise."""
    progress = report(seen)
    if progress is None or not progress.pending:
        return Noop("every local claim has the size the roster asks for")
    if progress.growing:
        claim = progress.growing[0]
        why = ("the node grows its file system" if FILE_SYSTEM_RESIZE_PENDING in claim.conditions else
               "the volume grows")
        return Noop(f"waiting for {claim.name} to reach {progress.requested} ({why}); one claim at a time")
    if progress.patch:
        claim = progress.patch[0]
        return ResizeClaim(f"grow {claim.name} from {claim.requested} to {seen.targets[claim.template]} "
                           f"(StorageClass {claim.storage_class} allows expansion)", claim.name,
                           seen.targets[claim.template])
    return Noop(progress.condition()[2])


def needs_class(seen_claims: Sequence[Claim], targets: Mapping[str, str]) -> set[str]:
    """The storage classes to read: those of claims asking for less than their target."""
    out = set()
    for claim in seen_claims:
        target, asked = _size(targets.get(claim.template, "")), _size(claim.requested)
        if claim.found and target is not None and (asked is None or asked < target):
            out.add(claim.storage_class)
    return out
