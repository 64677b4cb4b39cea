"""A spread constraint's ``minGroups`` at every level (issue 13, section 3): fewer groups than ``minGroups`` that
have clusters able to hold members is refused whatever the member count, as Karmada's scheduler refuses it
("the number of feasible clusters is less than spreadConstraint.MinGroups", ``select_clusters_by_cluster.go``;
the same for regions in ``select_clusters_by_region.go``); fewer members than ``minGroups`` (with enough groups)
is accepted, as Karmada accepts it, with each member in a group of its own and a warning that says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fedrender.scheduler.placement import CLUSTER, Candidate, Infeasible, Slot, Spread, place
from tests.conftest import run
from tests.topology import cluster_doc, pack_caps, write_inputs

LEVELS = [CLUSTER, "region", "zone", "provider", "label:tier"]


def _fleet(groups: int, per_group: int = 1) -> list[Candidate]:
    """``groups`` groups at every level (cluster: one cluster per group), ``per_group`` clusters in each."""
    out = []
    for g in range(groups):
        for i in range(per_group):
            out.append(Candidate(f"c{g}{i}", True, fits=5, groups={
                "region": f"r{g}", "zone": f"z{g}", "provider": f"p{g}", "label:tier": f"t{g}"}))
    return out


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("total", [1, 2, 3, 5])
def test_fewer_groups_than_min_groups_are_refused_whatever_the_member_count(level: str, total: int) -> None:
    clusters = _fleet(2, 1 if level == CLUSTER else 2)
    spread = Spread(level, 3)
    with pytest.raises(Infeasible) as caught:
        place(total, clusters, pack_caps(total), spreads=[spread])
    assert caught.value.spread == spread
    noun = "clusters may hold members" if level == CLUSTER else "have clusters that may hold members"
    assert f"need 3 {spread.plural()}, but only 2 {noun}" in caught.value.message
    assert "lower minGroups to 2 or make" in caught.value.message


@pytest.mark.parametrize("level", LEVELS[1:])
def test_a_cluster_without_a_value_for_the_level_is_in_no_group(level: str) -> None:
    """Karmada's generateRegionInfo skips a cluster without a region: it makes no region group."""
    clusters = [*_fleet(1), Candidate("bare", True, fits=5)]
    with pytest.raises(Infeasible, match="but only 1 have clusters that may hold members"):
        place(2, clusters, pack_caps(2), spreads=[Spread(level, 2)])


@pytest.mark.parametrize("level", LEVELS)
def test_fewer_members_than_min_groups_go_one_to_a_group(level: str) -> None:
    clusters = _fleet(4, 2)
    placement = place(3, clusters, pack_caps(3), spreads=[Spread(level, 4)])
    by_name = {c.name: c for c in clusters}
    held = {by_name[n].group(level) for n, count in placement.counts.items() if count}
    assert len(held) == 3


def test_room_for_too_few_groups_is_refused_at_the_constraint() -> None:
    clusters = [*_fleet(2), Candidate("full", True, fits=0, groups={"region": "r9"})]
    with pytest.raises(Infeasible) as caught:
        place(3, clusters, 5, spreads=[Spread("region", 3)])
    assert caught.value.spread == Spread("region", 3)
    assert "need members in 3 regions, but only 2 could be used" in caught.value.message


def _three_clusters(tmp: Path, members: int, min_groups: int) -> list[str]:
    return write_inputs(tmp, [cluster_doc("a", "eu", provider="p1"), cluster_doc("b", "us", provider="p2"),
                              cluster_doc("c", "ap", provider="p3")], members,
                        [{"spreadByField": "region", "minGroups": 1},
                         {"spreadByField": "cluster", "minGroups": min_groups}])


@pytest.mark.parametrize("command", ["explain", "render"])
def test_the_cli_refuses_more_cluster_groups_than_eligible_at_the_constraint(tmp_path: Path, command: str) -> None:
    """3 members, cluster minGroups 4, 3 eligible clusters: main rendered it without a word."""
    args = _three_clusters(tmp_path, 3, 4)
    extra = ["--out", str(tmp_path / "out")] if command == "render" else []
    result = run([command, *args, *extra])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = (tmp_path / "specs.yaml").read_text().splitlines().index("      minGroups: 4") + 1
    assert (f"{tmp_path / 'specs.yaml'}:{line}:7: error: spec.spreadConstraints.spreadConstraints[1].minGroups: "
            f"team/db: spreadConstraints (spreadByField: cluster, minGroups: 4) need 4 clusters, but only 3 clusters "
            f"may hold members (a, b, c)") in result.stderr
    assert "lower minGroups to 3 or make 1 more cluster eligible" in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_cli_warns_when_members_are_fewer_than_min_groups(tmp_path: Path) -> None:
    args = _three_clusters(tmp_path, 2, 3)
    result = run(["explain", *args, "-o", "json"])
    assert result.exit_code == 0, result.stderr
    instance = json.loads(result.stdout)["instances"][0]
    assert sorted(instance["placement"].values()) == [1, 1]
    [warning] = [w for w in instance["warnings"] if "minGroups: 3" in w]
    assert warning.startswith("team/db: spreadConstraints (spreadByField: cluster, minGroups: 3) ask for 3 clusters, "
                              "but there are only 2: each member goes to a different one")
    assert "Karmada accepts it too" in warning
    line = (tmp_path / "specs.yaml").read_text().splitlines().index("      minGroups: 3") + 1
    assert f"specs.yaml:{line}:7: warning: spec.spreadConstraints.spreadConstraints[1].minGroups: {warning}" \
        in result.stderr
    text = run(["explain", *args])
    assert f"  warning: {warning}" in text.stdout.splitlines()


def test_a_cluster_keeping_members_counts_as_a_group_even_when_a_scale_down_empties_it() -> None:
    """Karmada's NoSchedule filter lets the clusters of the previous result pass: c keeps its member (tainted),
    so three providers may hold members, even though scaling down to 1 removes that member first."""
    clusters = [Candidate("a", True, fits=0, groups={"provider": "p1"}),
                Candidate("b", True, fits=3, groups={"provider": "p2"}),
                Candidate("c", False, "is tainted", fits=0, keeps=True, groups={"provider": "p3"})]
    placement = place(1, clusters, pack_caps(1), previous=[Slot(0, "a", 0), Slot(1, "c", 0)],
                      spreads=[Spread("provider", 3)])
    assert sum(placement.counts.values()) == 1
