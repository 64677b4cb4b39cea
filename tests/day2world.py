"""A small world for render-sequence tests of day-2 steps: render through ``fedrender.pipeline.render`` (the
state of each render feeding the next), a replica set configuration evolved by the reconciler's own decisions
(``reconciler.decide.next_action``, applied as mongod would), and snapshots whose MongoReplicaSet status is
synthesised from that configuration, current or stale, or left out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from fedrender.models.state import PATH as STATE_FILE
from fedrender.models.state import State
from fedrender.pipeline.render import Inputs, RenderResult, render
from reconciler.decide import (
    USERS,
    AddMember,
    ChangeVotes,
    Initiate,
    Member,
    Noop,
    Observed,
    RemoveMember,
    StepDown,
    next_action,
)
from reconciler.kube import roster as parse_roster
from tests.observed import observed, snapshot
from tests.topology import write_inputs


@dataclass
class World:
    """One instance, team/db, over ``clusters``."""

    tmp: Path
    clusters: list[dict[str, Any]]
    state: State | None = None
    mrs: dict[str, Any] | None = None  # the last rendered MongoReplicaSet, as the control plane holds it
    generation: int = 0
    config: dict[int, Member] = field(default_factory=dict)
    version: int = 0
    primary: str = ""
    renders: int = 0
    arbiter: bool = False  # FedState's config.arbiter: an arbiter whenever the data members are even
    spec: dict[str, Any] = field(default_factory=dict)  # merged into team/db's spec (e.g. a new imageSetting)

    def render(self, members: int, observe: str = "current") -> RenderResult:
        """Render ``members`` members; the snapshot's MongoReplicaSet is ``current``, ``stale`` (status for the
        generation before) or ``none``."""
        self.renders += 1
        args = write_inputs(self.tmp, self.clusters, members, arbiter=self.arbiter)
        if self.spec:
            doc = yaml.safe_load(Path(args[1]).read_text())
            doc["spec"].update(self.spec)
            Path(args[1]).write_text(yaml.safe_dump(doc, sort_keys=False))
        clusters = Path(args[3])
        if self.mrs is not None and observe != "none":
            seen = self.generation if observe == "current" else self.generation - 1
            clusters = snapshot(clusters, self.tmp / f"snapshot-{self.renders}.yaml",
                                observed(self.mrs, self.generation, self.status(seen)))
        result = render(Inputs([Path(args[1])], clusters), self.state)
        self.state = State.model_validate_json(result.files[STATE_FILE])
        mrs = yaml.safe_load(result.files["instances/team/db/mongoreplicaset-db.yaml"])
        if self.mrs is None or mrs["spec"] != self.mrs["spec"]:
            self.generation += 1
        self.mrs = mrs
        return result

    def status(self, observed_generation: int) -> dict[str, Any]:
        return {"observedGeneration": observed_generation, "phase": "Ready", "primary": self.primary,
                "configVersion": self.version, "initialized": self.version > 0,
                "members": [{"_id": m.id, "host": m.host, "stateStr": "PRIMARY" if m.host == self.primary
                             else "SECONDARY", "health": 1, "votes": m.votes} for _, m in sorted(self.config.items())]}

    def pods(self) -> set[str]:
        """The hosts whose pods run: every member the state lists (StatefulSet replicas follow its placement)."""
        assert self.state is not None
        return {m.host for m in self.state.instances["team/db"].members}

    def reconcile(self, steps: int = 100) -> int:
        """Up to ``steps`` reconciler actions against the configuration; the number taken."""
        assert self.mrs is not None
        for taken in range(steps):
            roster = parse_roster(self.mrs, "")
            cluster = next((m.cluster for m in roster.members if m.host == self.primary), roster.init_cluster)
            roster = replace(roster, this_cluster=cluster)
            states = {m.host: "PRIMARY" if m.host == self.primary else "SECONDARY" for m in self.config.values()}
            seen = Observed(tuple(self.config.values()), self.version, self.primary, states, frozenset(self.pods()),
                            frozenset(USERS), default_write_concern="majority")
            action = next_action(roster, seen)
            if isinstance(action, Noop):
                return taken
            self.apply(action)
        return steps

    def apply(self, action: object) -> None:
        """The action as mongod carries it out (one voting change per reconfig, the primary never removed)."""
        before = {i for i, m in self.config.items() if m.votes}
        if isinstance(action, Initiate):
            self.config, self.primary = {action.member.id: action.member}, action.member.host
        elif isinstance(action, AddMember | ChangeVotes):
            self.config[action.member.id] = action.member
        elif isinstance(action, RemoveMember):
            assert action.member.host != self.primary, "the primary cannot remove itself"
            del self.config[action.member.id]
        elif isinstance(action, StepDown):
            electable = [m for m in self.config.values() if m.host != action.host and m.votes and m.priority]
            self.primary = min(electable, key=lambda m: m.id).host
            return
        else:
            raise AssertionError(f"unexpected action {action}")
        self.version += 1
        assert len(before ^ {i for i, m in self.config.items() if m.votes}) <= 1, "one voting change per reconfig"
        assert sum(m.votes > 0 for m in self.config.values()) <= 7, "MongoDB allows at most 7 voting members"
        assert all(m.host in self.pods() for m in self.config.values())

    def configured_without_pod(self) -> list[int]:
        """Members of the configuration whose pod a render removed: what must never happen."""
        pods = self.pods()
        return sorted(m.id for m in self.config.values() if m.host not in pods)

    def members(self) -> list[dict[str, Any]]:
        assert self.state is not None
        return [json.loads(m.model_dump_json()) for m in self.state.instances["team/db"].members]
