"""What a render changes, in words: the subject and body of a publish commit, and of `fedrender diff`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from fedrender import __version__
from fedrender.models.state import State
from fedrender.pipeline.render import RenderResult


@dataclass
class Summary:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    scaled: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    votes: list[str] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)

    def title(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in (("added", self.added), ("removed", self.removed),
                                               ("scaled", self.scaled), ("moved", self.moved)) if v]
        return "fedrender: " + (", ".join(parts) if parts else "update manifests")

    def lines(self) -> list[str]:
        return ([f"- add {x}" for x in self.added] + [f"- remove {x}" for x in self.removed]
                + [f"- scale {x}" for x in self.scaled] + [f"- move {x}" for x in self.moved]
                + [f"- votes of {x}" for x in self.votes]
                + [f"- clusters of {x}" for x in self.clusters])


def summarize(previous: State | None, result: RenderResult) -> Summary:
    before = previous.instances if previous else {}
    summary = Summary()
    now = {f"{r.namespace}/{r.name}": r for r in result.instances}
    for key in sorted(set(now) - set(before)):
        summary.added.append(f"{key} ({sum(now[key].placement.values())} members on "
                             f"{', '.join(sorted(now[key].placement))})")
    summary.removed += sorted(set(before) - set(now))
    for key in sorted(set(now) & set(before)):
        old, new = before[key].placement, now[key].placement
        if sum(old.values()) != sum(new.values()):
            summary.scaled.append(f"{key} {sum(old.values())} -> {sum(new.values())}")
        summary.moved += [f"{key} member {m.id} {m.source} -> {m.target}: {m.reason}" for m in now[key].moves]
        summary.votes += [f"{key} member {c.id} {c.before} -> {c.after}: {c.reason}" for c in now[key].vote_changes]
        if set(old) != set(new):
            summary.clusters.append(f"{key}: {', '.join(sorted(old))} -> {', '.join(sorted(new))}")
    return summary


def trailers(result_inputs: dict[str, str], packs: Sequence[tuple[str, str, str]], source: str) -> list[str]:
    """Git trailers: source commit, a digest of the inputs, rule-pack versions, tool version."""
    inputs = hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(result_inputs.items())).encode()).hexdigest()
    return [
        f"Fedrender-Source: {source or 'unknown'}",
        f"Fedrender-Inputs: sha256:{inputs}",
        f"Fedrender-Rule-Packs: {', '.join(f'{n}@{v} ({d[:12]})' for n, v, d in packs)}",
        f"Fedrender-Version: {__version__}",
    ]
