"""Voters across renders, through the command line: the issue's 8 members after failover and scale-down, and
how explain, render and the state file report each vote that changes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from fedrender.pipeline.render import Inputs, parse_state, render
from fedrender.pipeline.summary import summarize
from tests.conftest import CLUSTERS, ROOT, edited_pack, run

SPEC = yaml.safe_load((ROOT / "examples" / "specs" / "team-databases.yaml").read_text().split("---")[0])
SNAPSHOT = yaml.safe_load(CLUSTERS.read_text())


def _clusters(path: Path, down: str = "") -> Path:
    """The example snapshot with member-ap-1 Ready (four clusters in four regions), and ``down`` NotReady."""
    snapshot = copy.deepcopy(SNAPSHOT)
    for cluster in snapshot["items"]:
        condition = cluster["status"]["conditions"][0]
        if cluster["metadata"]["name"] == "member-ap-1":
            condition.update(status="True", reason="ClusterReady", message="cluster is healthy and ready")
        if cluster["metadata"]["name"] == down:
            condition.update(status="False", reason="ClusterNotReachable", message="cluster is not reachable")
    path.write_text(yaml.safe_dump(snapshot))
    return path


def _specs(path: Path, members: int) -> Path:
    path.write_text(yaml.safe_dump({**SPEC, "spec": {**SPEC["spec"], "replicaset": members}}))
    return path


def _members(out: Path) -> list[dict[str, Any]]:
    state = json.loads((out / ".fedrender" / "state.json").read_text())
    members: list[dict[str, Any]] = state["instances"]["shop/orders"]["members"]
    return members


def _render(tmp_path: Path, members: int, down: str = "", command: str = "render", *extra: str) -> Any:
    return run([command, "--specs", str(_specs(tmp_path / "s.yaml", members)),
                "--clusters", str(_clusters(tmp_path / "c.yaml", down)), "--out", str(tmp_path / "out"), *extra])


def test_failover_then_scale_down_leaves_seven_of_eight_voting(tmp_path: Path) -> None:
    """9 members over 4 clusters (us-1 gcp, ap-1 and eu-1 aws, eu-2 alibabacloud): 7 vote, 2-2-2-1 with eu-1
    the 1, so that provider aws holds 3 of the 7 votes, not a majority (`_id < 7` gave eu-1 2 and aws 4).
    member-eu-2 fails and its members 3 and 7 move, keeping their votes; scaling down to 8 removes member 7
    (the highest ordinal in the most loaded provider), a voter. That leaves 6 voters; member 6 takes the
    seventh vote (in eu-1, the cluster with the fewest), and the change is told."""
    out = tmp_path / "out"
    fresh = _render(tmp_path, 9)
    assert fresh.exit_code == 0
    assert "voting-majority" not in fresh.stderr  # no cluster, region, zone or provider holds a majority
    assert [m["id"] for m in _members(out) if m["votes"]] == [0, 1, 2, 3, 4, 5, 7]
    failover = _render(tmp_path, 9, "member-eu-2")
    assert failover.exit_code == 0, failover.stderr
    assert "moved member 7 member-eu-2 -> " in failover.stderr
    assert "votes:" not in failover.stderr  # a member that moves keeps its vote
    assert [m["id"] for m in _members(out) if m["votes"]] == [0, 1, 2, 3, 4, 5, 7]

    explained = _render(tmp_path, 8, "member-eu-2", "explain", "-o", "json")
    assert explained.exit_code == 0, explained.stderr
    orders = json.loads(explained.stdout)["instances"][0]
    # Member 7 leaves in two phases: it stays (votes 0) until an observed state shows it out of the configuration.
    assert orders["leaving"] == [7]
    ids = [m["id"] for m in orders["members"] if m["id"] not in orders["leaving"]]
    assert ids == [0, 1, 2, 3, 4, 5, 6, 8]
    assert sum(i in (0, 1, 2, 3, 4, 5, 7) for i in ids) == 6  # the voters that remain: 6 of 8
    assert [m["id"] for m in orders["members"] if m["votes"]] == [0, 1, 2, 3, 4, 5, 6]
    assert [(c["id"], c["from"], c["to"]) for c in orders["voteChanges"]] == [(6, 0, 1), (7, 1, 0)]
    reason = orders["voteChanges"][0]["reason"]
    assert reason.startswith("only 6 members that voted remain (member 7 leaves), fewer than the 7 that vote; "
                             "now 7 of the 8 members vote")
    text = _render(tmp_path, 8, "member-eu-2", "explain")
    assert f"  votes: member 6 0 -> 1: {reason}" in text.stdout.splitlines()
    state = out / ".fedrender" / "state.json"  # what publish and diff summarise in the commit message
    previous = parse_state(state.read_bytes(), str(state))
    rendered = render(Inputs([tmp_path / "s.yaml"], tmp_path / "c.yaml"), previous)
    assert f"- votes of shop/orders member 6 0 -> 1: {reason}" in summarize(previous, rendered).lines()

    scaled = _render(tmp_path, 8, "member-eu-2")
    assert scaled.exit_code == 0, scaled.stderr
    assert f"shop/orders: votes: member 6 0 -> 1: {reason}" in scaled.stderr.splitlines()
    members = _members(out)
    assert [(m["id"], m["votes"], m["priority"], m["leaving"]) for m in members if m["id"] in (6, 7, 8)] == [
        (6, 1, 1, False), (7, 0, 0, True), (8, 0, 0, False)]
    roster = yaml.safe_load((out / "instances" / "shop" / "orders" / "mongoreplicaset-orders.yaml").read_text())
    assert sum(m["votes"] for m in roster["spec"]["members"]) == 7
    again = _render(tmp_path, 8, "member-eu-2", "explain", "-o", "json")
    assert json.loads(again.stdout)["instances"][0]["voteChanges"] == []  # the next render changes nothing


def test_every_non_voter_has_priority_0(tmp_path: Path) -> None:
    """MongoDB refuses priority > 0 with votes 0: the pack gives members without a vote priority 0."""
    assert _render(tmp_path, 12).exit_code == 0
    members = _members(tmp_path / "out")
    assert sum(m["votes"] for m in members) == 7
    assert all(m["priority"] == 0 for m in members if not m["votes"])
    assert all(m["priority"] >= 1 for m in members if m["votes"])


def test_a_pack_that_gives_a_non_voter_a_priority_is_refused(tmp_path: Path) -> None:
    """The pack's check names the members the reconciler could never configure (MongoDB refuses them)."""
    pack = edited_pack(tmp_path, "member.arbiterOnly || !member.voter ? 0 :", "member.arbiterOnly ? 0 :")
    result = _render(tmp_path, 9, "", "explain", "--rules", str(pack))
    assert result.exit_code == 1
    assert "members 6, 8 have votes 0 and a priority above 0, which MongoDB refuses" in result.stderr
    assert "[mongodb/non-voters-have-priority-0]" in result.stderr
