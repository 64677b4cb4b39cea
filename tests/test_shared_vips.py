"""Two clusters with one VIP are refused where the later one is set (found by an attack: the members of one
instance in both got the same host, VIP:nodePort, and render ended in a traceback from its own state check).

A VIP addresses a cluster's nodes; each member's host is ``<VIP>:<nodePort>`` with the nodePort of its ordinal, the
same in every cluster, so two clusters holding ordinal 0 of one instance would give MongoDB a config that repeats
a host (``replSetReconfig`` refuses it: "Found two member configurations with same host field").
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run
from tests.topology import cluster_doc, write_inputs

ADDRESSES = ["10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8:0:0::1", "db.example.com", "DB.example.com"]


def canonical(vip: str) -> str:
    try:
        return ipaddress.ip_address(vip).compressed
    except ValueError:
        return vip.lower()


def test_the_attack_two_clusters_with_one_vip_by_overlay(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, [cluster_doc("a", "r1"), cluster_doc("b", "r2"), cluster_doc("c", "r3")])
    (tmp_path / "overlay").mkdir()
    a_vip = cluster_doc("a", "r1")["metadata"]["labels"]["vip"]
    (tmp_path / "overlay" / "vips.yaml").write_text(yaml.safe_dump({"clusters": {"b": {"vip": a_vip}}}))
    out = tmp_path / "out"
    for command in (["render", "--out", str(out)], ["render", "--out", "-"], ["explain"]):
        result = run([*command[:1], *args, "--overlay", str(tmp_path / "overlay"), *command[1:]])
        assert result.exit_code == 1
        assert (f"{tmp_path / 'overlay' / 'vips.yaml'}:3:5: error: clusters.b.vip: clusters a and b have the same "
                f"VIP {a_vip}") in result.stderr
        assert "Traceback" not in result.stderr
    assert not out.exists()


@settings(deadline=None, max_examples=10, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(chosen=st.lists(st.tuples(st.sampled_from(ADDRESSES), st.booleans()), min_size=3, max_size=4))
def test_any_vips_shared_by_label_or_overlay_are_refused_at_the_later_one(tmp_path: Path,
                                                                         chosen: list[tuple[str, bool]]) -> None:
    """Whatever VIPs the clusters get, by their label or by the overlay (IPv6 and DNS spellings that are one
    address included): render succeeds when they are distinct, else exit 1 at the later cluster's VIP."""
    clusters: list[dict[str, Any]] = []
    overlay: dict[str, Any] = {}
    chosen = [(vip, by_overlay or ":" in vip) for vip, by_overlay in chosen]  # an IPv6 VIP can't be a label
    for index, (vip, by_overlay) in enumerate(chosen):
        doc = cluster_doc(f"c{index}", f"r{index}")
        if by_overlay:
            del doc["metadata"]["labels"]["vip"]
            overlay[f"c{index}"] = {"vip": vip.lower() if not vip[0].isdigit() else vip}
        else:
            doc["metadata"]["labels"]["vip"] = vip.lower() if not vip[0].isdigit() else vip
        clusters.append(doc)
    args = write_inputs(tmp_path, clusters)
    (tmp_path / "overlay").mkdir(exist_ok=True)
    (tmp_path / "overlay" / "vips.yaml").write_text(yaml.safe_dump({"clusters": overlay}))
    result = run(["explain", *args, "--overlay", str(tmp_path / "overlay")])
    keys = [canonical(vip) for vip, _ in chosen]
    assert "Traceback" not in result.stderr
    if len(set(keys)) == len(keys):
        assert result.exit_code == 0, result.stderr
        return
    assert result.exit_code == 1
    later = next(i for i, key in enumerate(keys) if key in keys[:i])
    first = keys.index(keys[later])
    assert f"clusters c{first} and c{later} have the same VIP" in result.stderr
    field = f"clusters.c{later}.vip" if chosen[later][1] else "metadata.labels.vip"
    assert f"error: {field}: clusters c{first} and c{later}" in result.stderr
