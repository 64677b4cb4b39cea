"""Where a spread constraint sits in a spec, and the warning for a ``minGroups`` above the member count.

A pack's ``scheduling.spreadConstraints`` gives the spreads in the order of FedState's
``spec.spreadConstraints.spreadConstraints`` list (the MongoDB pack maps it item by item), so the spread at
index ``i`` is located at that list's item ``i`` when the spec has it; otherwise (a pack's default spread)
at the member count.
"""

from __future__ import annotations

from collections.abc import Sequence

from fedrender.models.diagnostics import Diagnostic, Location
from fedrender.models.source import PathKey, SourceDoc, format_path
from fedrender.scheduler.groups import Spread

SPREADS_PATH: PathKey = ("spec", "spreadConstraints", "spreadConstraints")
"""FedState's list of Karmada ``SpreadConstraint`` in a ``MultiCloudMongoDB``."""


def spread_location(doc: SourceDoc, spreads: Sequence[Spread], spread: Spread,
                    fallback: str) -> tuple[Location, str]:
    """The location and field path of ``spread`` (one of ``spreads``): its ``minGroups`` in the spec's list
    (the item when ``minGroups`` is left to its default), else ``fallback`` (a dotted field path)."""
    index = spreads.index(spread)
    for path in ((*SPREADS_PATH, index, "minGroups"), (*SPREADS_PATH, index)):
        full = (*doc.prefix, *path)
        if full in doc.key_positions or full in doc.positions:
            return doc.location(path), format_path(path)
    parts = tuple(p for p in fallback.split(".") if p)
    return doc.location(parts), fallback


def above_members(doc: SourceDoc, subject: str, spreads: Sequence[Spread], total: int,
                  fallback: str) -> list[Diagnostic]:
    """A warning per spread whose ``minGroups`` is more than the ``total`` members: Karmada accepts it (its
    ``selectGroups``, ``pkg/scheduler/core/spreadconstraint/select_groups.go``, selects ``minGroups`` clusters
    and the division leaves the extra ones without replicas); fedrender places each member in a group of its own
    and says so, since the members can't be in ``minGroups`` groups."""
    out = []
    for spread in spreads:
        if spread.min_groups <= total:
            continue
        where, path = spread_location(doc, spreads, spread, fallback)
        out.append(Diagnostic(
            f"{subject}: spreadConstraints ({spread.describe()}) ask for {spread.min_groups} {spread.plural()}, but "
            f"there {'is' if total == 1 else 'are'} only {total}: each member goes to a different one ({total} "
            f"{spread.plural(total)} hold members); Karmada accepts it too (it selects {spread.min_groups} and leaves "
            f"{spread.min_groups - total} without replicas); set minGroups to {total} or less to say what happens, or "
            f"add members", where, path, severity="warning"))
    return out
