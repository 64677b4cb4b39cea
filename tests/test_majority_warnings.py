"""A region, zone or provider holding a majority of the votes (issue 13, section 4, first bullet): avoided where
three or more of them can hold members, otherwise a warning that names the group, why it could not be avoided
and what would avoid it, in render's stderr (at file:line:col) and in explain's text and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fedrender.scheduler.groups import Spread
from fedrender.scheduler.majority import voting_majorities
from fedrender.scheduler.placement import Candidate, place, place_arbiter
from tests.conftest import run
from tests.topology import cluster_doc, write_inputs


def _explain(args: list[str]) -> dict[str, Any]:
    result = run(["explain", *args, "-o", "json"])
    assert result.exit_code == 0, result.stderr
    instance: dict[str, Any] = json.loads(result.stdout)["instances"][0]
    return instance


def _majority_warnings(instance: dict[str, Any]) -> list[str]:
    return [w for w in instance["warnings"] if "voting-majority-in-one-" in w]


def test_three_clusters_in_two_regions_warn_that_one_region_holds_two_of_three_votes(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, [cluster_doc("a", "eu", provider="aws"), cluster_doc("b", "eu", provider="gcp"),
                              cluster_doc("c", "us", provider="azure")])
    instance = _explain(args)
    assert instance["placement"] == {"a": 1, "b": 1, "c": 1}
    [warning] = _majority_warnings(instance)
    assert warning.startswith("team/db: region eu holds 2 of the 3 votes (in a, b), so if it fails the replica set "
                              "has no primary: only 2 regions (eu, us) have clusters that can hold members")
    assert "make a cluster in a third region eligible" in warning
    assert warning.endswith("[mongodb/voting-majority-in-one-region]")
    text = run(["explain", *args])
    assert text.exit_code == 0
    assert f"  warning: {warning}" in text.stdout.splitlines()
    render = run(["render", *args, "--out", str(tmp_path / "out")])
    assert render.exit_code == 0, render.stderr
    spec_line = (tmp_path / "specs.yaml").read_text().splitlines().index("  replicaset: 3") + 1
    assert f"{tmp_path / 'specs.yaml'}:{spec_line}:3: warning: spec.replicaset: {warning}" in render.stderr


def test_a_zone_majority_is_warned_about(tmp_path: Path) -> None:
    instance = _explain(write_inputs(tmp_path, [
        cluster_doc("a", "eu", "eu-1a", "aws"), cluster_doc("b", "eu", "eu-1a", "gcp"),
        cluster_doc("c", "eu", "eu-1b", "azure")]))
    [warning] = _majority_warnings(instance)
    assert warning.startswith("team/db: zone eu-1a holds 2 of the 3 votes (in a, b)")
    assert "only 2 zones (eu-1a, eu-1b)" in warning
    assert "make a cluster in a third zone eligible" in warning


def test_a_provider_majority_is_warned_about(tmp_path: Path) -> None:
    instance = _explain(write_inputs(tmp_path, [
        cluster_doc("a", "eu", provider="aws"), cluster_doc("b", "us", provider="aws"),
        cluster_doc("c", "ap", provider="gcp")]))
    [warning] = _majority_warnings(instance)
    assert warning.startswith("team/db: provider aws holds 2 of the 3 votes (in a, b)")
    assert "make a cluster in a third provider eligible" in warning


def test_a_majority_is_avoided_where_three_groups_can_hold_members(tmp_path: Path) -> None:
    """Four clusters, two of them with aws: three members go to three providers (by name alone, a and b would
    both have taken one, giving aws two of three votes), and nothing is warned about."""
    instance = _explain(write_inputs(tmp_path, [
        cluster_doc("a", "r1", provider="aws"), cluster_doc("b", "r2", provider="aws"),
        cluster_doc("c", "r3", provider="gcp"), cluster_doc("d", "r4", provider="azure")]))
    assert instance["placement"] == {"a": 1, "c": 1, "d": 1}
    assert _majority_warnings(instance) == []


def test_a_region_cap_still_avoids_a_region_majority(tmp_path: Path) -> None:
    instance = _explain(write_inputs(tmp_path, [
        cluster_doc("a", "eu", provider="p1"), cluster_doc("b", "eu", provider="p2"),
        cluster_doc("c", "us", provider="p3"), cluster_doc("d", "ap", provider="p4")]))
    assert instance["placement"] == {"a": 1, "c": 1, "d": 1}
    assert _majority_warnings(instance) == []


def test_a_majority_forced_by_max_groups_names_the_constraint(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, [cluster_doc("a", "eu", provider="p1"), cluster_doc("b", "eu", provider="p2"),
                              cluster_doc("c", "us", provider="p3"), cluster_doc("d", "ap", provider="p4")],
                   spreads=[{"spreadByField": "region", "minGroups": 2, "maxGroups": 2}])
    instance = _explain(args)
    [warning] = _majority_warnings(instance)
    assert "region ap holds" in warning or "region eu holds" in warning
    assert "spreadConstraints (maxGroups 2 by region) let members use only 2 of the 3 regions" in warning
    assert "raise maxGroups in spec.spreadConstraints so that members can use three regions" in warning
    render = run(["render", *args, "--out", str(tmp_path / "out")])
    assert "warning: spec.spreadConstraints.spreadConstraints: team/db: region" in render.stderr


def test_one_region_for_every_cluster_is_not_warned_about(tmp_path: Path) -> None:
    """A fleet in one region (or one provider) has nothing to spread over: no warning on every render."""
    instance = _explain(write_inputs(tmp_path, [cluster_doc(n, "eu", provider=p) for n, p in (("a", "p1"), ("b", "p2"),
                                                                                       ("c", "p3"))]))
    assert _majority_warnings(instance) == []


# --- the analysis itself -----------------------------------------------------------------------------------


def _groups(**regions: str) -> dict[str, dict[str, str]]:
    return {cluster: {"region": region} for cluster, region in regions.items()}


def test_a_majority_held_by_one_cluster_is_left_to_the_cluster_checks() -> None:
    groups = _groups(a="eu", b="us")
    found = voting_majorities({"a": 2, "b": 1}, groups, ["cluster", "region"], {"region": ["eu", "us"]},
                              {"region": ["eu", "us"]}, [], {}, {"a": 2, "b": 1})
    assert found == []


def test_fewer_than_three_voters_are_not_reported() -> None:
    groups = _groups(a="eu", b="eu", c="us")
    assert voting_majorities({"a": 1, "b": 1}, groups, ["region"], {"region": ["eu", "us"]},
                             {"region": ["eu", "us"]}, [], {}, {"a": 1, "b": 1}) == []


def test_members_placed_earlier_are_named_as_the_cause() -> None:
    groups = _groups(a="eu", b="eu", c="us", d="ap")
    [found] = voting_majorities({"a": 1, "b": 1, "c": 1}, groups, ["region"], {"region": ["ap", "eu", "us"]},
                                {"region": ["ap", "eu", "us"]}, [], {"region=eu": "holds 2, cap 1"},
                                {"a": 1, "b": 1, "c": 1})
    assert "members placed earlier put it there" in found.why
    assert "scale down and up again" in found.fix


def test_votes_count_not_members() -> None:
    """Members without votes don't make a majority: the tally is of votes (the arbiter's included)."""
    groups = _groups(a="eu", b="eu", c="us", d="ap")
    [found] = voting_majorities({"a": 2, "b": 1, "c": 1, "d": 0}, groups, ["region"],
                                {"region": ["ap", "eu", "us"]}, {"region": ["ap", "eu", "us"]}, [], {},
                                {"a": 2, "b": 2, "c": 2, "d": 2})
    assert (found.group, found.votes, found.voters) == ("eu", 3, 4)
    assert "more of those that vote are there" in found.why
    assert voting_majorities({"a": 1, "b": 0, "c": 1, "d": 1}, groups, ["region"], {"region": ["ap", "eu", "us"]},
                             {"region": ["ap", "eu", "us"]}, [], {}, {"a": 2, "b": 2, "c": 2, "d": 2}) == []


def test_the_spread_constraint_is_named_when_it_is_the_cause() -> None:
    groups = _groups(a="eu", b="eu", c="us", d="ap")
    [found] = voting_majorities({"a": 1, "b": 1, "c": 1}, groups, ["region"], {"region": ["eu", "us"]},
                                {"region": ["ap", "eu", "us"]}, [Spread("region", 2, 2)], {},
                                {"a": 1, "b": 1, "c": 1})
    assert found.constrained
    assert "maxGroups 2 by region" in found.why


def test_the_arbiter_avoids_giving_a_region_the_majority() -> None:
    """Four data members 1-1-1-1 over a, b (eu), c (us), d (ap): the arbiter in e, the cluster without data,
    would give eu 3 of the 5 votes; it goes to c instead (eu keeps 2 of 5)."""
    clusters = [Candidate(n, True, fits=10, groups={"region": r}) for n, r in
                (("a", "eu"), ("b", "eu"), ("c", "us"), ("d", "ap"), ("e", "eu"))]
    placement = place(4, clusters, lambda usable: dict.fromkeys(("cluster", "region"), 2))
    assert placement.counts == {"a": 1, "b": 1, "c": 1, "d": 1}
    arbiter, move = place_arbiter(clusters, placement, None)
    assert (arbiter.cluster, move) == ("c", None)
    # Without regions, a cluster without data members is still preferred.
    plain = [Candidate(n, True, fits=10) for n in "abcde"]
    assert place_arbiter(plain, place(4, plain, 2), None)[0].cluster == "e"


def test_the_arbiter_stays_within_the_clusters_max_groups_chose() -> None:
    """maxGroups 2 by cluster: the arbiter joins one of the two clusters chosen, not a third."""
    clusters = [Candidate(n, True, fits=10) for n in "abc"]
    placement = place(4, clusters, 5, spreads=[Spread("cluster", 1, 2)])
    assert placement.counts == {"a": 2, "b": 2}
    assert place_arbiter(clusters, placement, None)[0].cluster == "a"


def test_clusters_listing_several_zones_are_named_as_one_group_of_those_zones(tmp_path: Path) -> None:
    """A cluster whose Karmada Cluster lists zones [z1, z2] is one group of those zones (it fails as one); the
    warning names that group {z1,z2}, not a zone "z1,z2" the fleet doesn't have (found by a new-user walkthrough)."""
    clusters = [cluster_doc("a", "eu", provider="aws"), cluster_doc("b", "us", provider="gcp"),
                cluster_doc("c", "ap", provider="azure")]
    for doc, zones in zip(clusters, (["z1", "z2"], ["z1"], ["z2", "z1"]), strict=True):
        doc["spec"]["zones"] = zones
    [warning] = _majority_warnings(_explain(write_inputs(tmp_path, clusters)))
    assert warning.startswith("team/db: zone {z1,z2} holds 2 of the 3 votes (in a, c)")
    assert "only 2 zones (z1, {z1,z2}) have clusters that can hold members" in warning
    assert "(clusters that list several zones count as one group of those zones)" in warning
