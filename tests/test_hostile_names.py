"""Names that become paths or object names are checked as Kubernetes checks them; a hostile one is a located
error (exit 1), never a file outside --out. Hostile names are generated here; valid ones still render."""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.models import names
from tests.conftest import CLUSTERS, ROOT, run
from tests.refusal import clusters_with, mongodb, sandbox
from tests.sandbox import picture

CLI = settings(deadline=None, max_examples=10, suppress_health_check=[HealthCheck.too_slow])
PURE = settings(deadline=None, max_examples=300)

# The rules, written out independently of fedrender.models.names (k8s.io/apimachinery validation.go).
LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
SUBDOMAIN_PART = LABEL
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def is_label(value: str, limit: int = 63) -> bool:
    return len(value) <= limit and LABEL.fullmatch(value) is not None


def is_subdomain(value: str) -> bool:
    return len(value) <= 253 and all(is_label(part) for part in value.split("."))


KNOWN_BAD = ["..", ".", "../x", "../../etc", "a/b", "/abs", "a\\b", "Upper", "a_b", "-a", "a-", "a..b", "ñame",
             "名前", "a b", "x" * 64, "2001:db8::1", "http://x", "a%2fb", "~x", "a:b", "a\tb", ".hidden"]
ALPHABET = st.sampled_from("ab9-./\\_A%:é ~")
hostile_label = st.one_of(st.sampled_from(KNOWN_BAD), st.text(ALPHABET, min_size=1, max_size=70),
                          st.text("ab-", min_size=64, max_size=80)).filter(lambda s: not is_label(s))
hostile_subdomain = st.one_of(st.sampled_from(KNOWN_BAD), st.text(ALPHABET, min_size=0, max_size=70),
                              st.text("ab.", min_size=254, max_size=260)).filter(lambda s: not is_subdomain(s))
valid_label = st.from_regex(r"\A[a-z]([-a-z0-9]{0,20}[a-z0-9])?\Z")


@CLI
@given(field_value=st.one_of(st.tuples(st.just("namespace"), hostile_label.filter(bool)),
                             st.tuples(st.just("name"), hostile_subdomain)))
def test_a_hostile_namespace_or_name_is_refused_at_its_line(field_value: tuple[str, str]) -> None:
    field, value = field_value
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb({field: value}))
        before = picture(box.root)
        box.assert_refused(box.render(spec), before, spec, f"metadata.{field}: ")


@CLI
@given(field=st.sampled_from([("config", "configRef"), ("imageSetting", "imagePullSecret"),
                              ("storage", "storageClass"), ("member", "memberConfigRef")]),
       value=hostile_subdomain)
def test_names_of_referenced_objects_are_refused_at_the_spec_field(field: tuple[str, str], value: str) -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb(**{field[0]: {field[1]: value}}))
        before = picture(box.root)
        box.assert_refused(box.render(spec), before, spec, f"spec.{field[0]}.{field[1]}: ")


@CLI
@given(namespace=valid_label, name=valid_label.filter(lambda s: len(s) <= 52))
def test_valid_names_render_where_they_say(namespace: str, name: str) -> None:
    with sandbox() as box:
        spec = box.write("spec.yaml", mongodb({"namespace": namespace, "name": name},
                                              config={"configRef": f"{name}.conf"}))
        result = box.render(spec)
        assert result.exit_code == 0, result.stderr
        base = box.out / "instances" / namespace / name
        assert (base / f"statefulset-{name}.yaml").is_file()
        assert (box.out / "references" / namespace / f"propagationpolicy-configmap-{name}.conf.yaml").is_file()
        assert sorted(p.name for p in box.root.iterdir()) == ["a", "in", "outside.txt"]


def _pack_with(box_root: Path, template_name: str, reference: str | None = None) -> Path:
    """A copy of the MongoDB pack whose headless Service is named by ``template_name`` (CEL) and, optionally,
    with one more ConfigMap reference named by ``reference`` (CEL)."""
    rules = box_root / "rules"
    shutil.copytree(ROOT / "rules" / "mongodb", rules / "mongodb")
    service = rules / "mongodb" / "templates" / "service-headless.yaml"
    service.write_text(service.read_text().replace("  name: ${metadata.name}\n", f"  name: ${{{template_name}}}\n", 1))
    if reference:
        pack = rules / "mongodb" / "pack.yaml"
        line = '    - {kind: ConfigMap, name: "spec.config.configRef"}\n'
        pack.write_text(pack.read_text().replace(line, f'{line}    - {{kind: ConfigMap, name: "{reference}"}}\n'))
    return rules


NAME_ANNOTATION = "test.fedrender.io/name"


@CLI
@given(value=hostile_label.filter(lambda s: s != "" and not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", s)))
def test_a_template_name_from_cel_is_checked_by_the_rule_of_its_kind(value: str) -> None:
    with sandbox() as box:
        rules = _pack_with(box.root, f"metadata.annotations['{NAME_ANNOTATION}']")
        spec = box.write("spec.yaml", mongodb({"annotations": {NAME_ANNOTATION: value}}))
        before = picture(box.root)
        template = rules / "mongodb" / "templates" / "service-headless.yaml"
        box.assert_refused(box.render(spec, "--rules", str(rules)), before, template, "metadata.name: Service ")


def test_a_template_name_from_cel_renders_when_valid(tmp_path: Path) -> None:
    with sandbox() as box:
        rules = _pack_with(box.root, f"metadata.annotations['{NAME_ANNOTATION}']")
        spec = box.write("spec.yaml", mongodb({"annotations": {NAME_ANNOTATION: "orders-gov"}}))
        result = box.render(spec, "--rules", str(rules))
        assert result.exit_code == 0, result.stderr
        assert (box.out / "instances" / "team-a" / "orders" / "service-orders-gov.yaml").is_file()


@CLI
@given(value=hostile_subdomain.filter(bool))
def test_a_reference_named_by_a_pack_rule_is_checked(value: str) -> None:
    with sandbox() as box:
        rules = _pack_with(box.root, "metadata.name", f"metadata.annotations['{NAME_ANNOTATION}']")
        spec = box.write("spec.yaml", mongodb({"annotations": {NAME_ANNOTATION: value}}))
        before = picture(box.root)
        box.assert_refused(box.render(spec, "--rules", str(rules)), before, spec)
        result = box.render(spec, "--rules", str(rules))
        assert "references a ConfigMap" in result.stderr


hostile_cluster = st.one_of(hostile_label, st.text("ab", min_size=49, max_size=63), st.just("a.b"))


@CLI
@given(name=hostile_cluster.filter(bool))
def test_a_hostile_cluster_name_is_refused_at_its_line(name: str) -> None:
    with sandbox() as box:
        clusters = box.write("clusters.yaml", {"apiVersion": "v1", "kind": "List",
                                               "items": clusters_with([(2, {"name": name})])})
        spec = box.write("spec.yaml", mongodb())
        before = picture(box.root)
        box.assert_refused(box.render(spec, clusters=clusters), before, clusters, "metadata.name: ")


BAD_VIPS = ["http://10.0.0.1", "https://db.example.com:443/x", "10.0.0.1:27017", "db.example.com:27017",
            "[2001:db8::1]", "[2001:db8::1]:27017", "fe80::1%eth0", "010.0.0.1", "10.0.0", "256.1.1.1",
            "Db.Example.com", "db_1.example.com", "-db.example.com", "a..b", "a b", "::ffff:zz", "x" * 254]
hostile_vip = st.one_of(st.sampled_from(BAD_VIPS),
                        st.builds(lambda h, p: f"{h}:{p}", st.ip_addresses(v=4).map(str), st.integers(1, 65535)),
                        st.builds(lambda s, h: f"{s}://{h}", st.sampled_from(["http", "mongodb", "tcp"]),
                                  st.ip_addresses().map(str)))


@CLI
@given(vip=hostile_vip)
def test_a_hostile_vip_in_the_overlay_is_refused_at_its_line(vip: str) -> None:
    with sandbox() as box:
        overlay = box.write("overlay/clusters.yaml", {"clusters": {"member-ap-2": {"vip": vip}}})
        spec = box.write("spec.yaml", mongodb())
        before = picture(box.root)
        box.assert_refused(box.render(spec, "--overlay", str(overlay.parent)), before, overlay,
                           "clusters.member-ap-2.vip: ")


@CLI
@given(vip=hostile_vip)
def test_a_hostile_vip_label_is_refused_at_its_line(vip: str) -> None:
    with sandbox() as box:
        items = clusters_with([])
        items[0]["metadata"] = {**items[0]["metadata"], "labels": {**items[0]["metadata"]["labels"], "vip": vip}}
        clusters = box.write("clusters.yaml", {"apiVersion": "v1", "kind": "List", "items": items})
        spec = box.write("spec.yaml", mongodb())
        before = picture(box.root)
        box.assert_refused(box.render(spec, clusters=clusters), before, clusters, "metadata.labels.vip: ")


def test_an_ipv6_vip_label_says_to_use_the_overlay() -> None:
    with sandbox() as box:
        items = clusters_with([])
        items[0]["metadata"]["labels"] = {**items[0]["metadata"]["labels"], "vip": "2001:db8::1"}
        clusters = box.write("clusters.yaml", {"apiVersion": "v1", "kind": "List", "items": items})
        result = box.render(box.write("spec.yaml", mongodb()), clusters=clusters)
        assert result.exit_code == 1
        assert "give a cluster's IPv6 VIP as clusters.<cluster>.vip in the overlay" in result.stderr


@CLI
@given(address=st.ip_addresses(v=6))
def test_an_ipv6_vip_is_bracketed_in_hosts_and_valid_in_labels(address: ipaddress.IPv6Address) -> None:
    vip = str(address)
    with sandbox() as box:
        overlay = box.write("overlay/clusters.yaml", {"clusters": {"member-ap-2": {"vip": vip}}})
        spec = box.write("spec.yaml", mongodb({}, replicaset=5))
        args = ["--specs", str(spec), "--clusters", str(CLUSTERS), "--overlay", str(overlay.parent)]
        explained = run(["explain", *args, "-o", "json"])
        assert explained.exit_code == 0, explained.stderr
        members = json.loads(explained.stdout)["instances"][0]["members"]
        assert any(m["cluster"] == "member-ap-2" for m in members)
        for member in members:
            if member["cluster"] == "member-ap-2":
                host, _, port = member["host"].rpartition(":")
                assert host == f"[{vip}]"
                assert port.isdigit()
        result = box.render(spec, "--overlay", str(overlay.parent))
        assert result.exit_code == 0, result.stderr
        for path in (box.out / "instances").rglob("*.yaml"):
            for labels in _label_maps(yaml.safe_load(path.read_text())):
                assert all(LABEL_VALUE.fullmatch(v) and len(v) <= 63 for v in labels.values()), (path, labels)


def _label_maps(node: Any) -> list[dict[str, str]]:
    """Every ``labels`` mapping and labelsOverrider ``value`` anywhere in an object."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("labels", "matchLabels") and isinstance(value, dict):
                found.append(value)
            if key == "labelsOverrider":
                found += [item["value"] for item in value]
            found += _label_maps(value)
    elif isinstance(node, list):
        for item in node:
            found += _label_maps(item)
    return found


# Pure properties of the checks, against the independent oracles above.

@PURE
@given(value=st.text(st.sampled_from("az09-.A_/:%é \\"), max_size=70))
def test_the_label_and_subdomain_checks_agree_with_kubernetes(value: str) -> None:
    assert (names.dns1123_label(value) == []) == is_label(value)
    assert (names.dns1123_subdomain(value) == []) == (value != "" and is_subdomain(value))
    assert (names.cluster_name(value) == []) == is_label(value, 48)
    assert (names.label_value(value) == []) == bool(len(value) <= 63 and LABEL_VALUE.fullmatch(value))


@PURE
@given(value=st.text(max_size=80))
def test_every_accepted_name_is_a_plain_path_segment(value: str) -> None:
    for kind in ("Service", "Namespace", "ConfigMap", "Role"):
        if names.name_rule(kind)(value, "name") == []:
            assert value not in ("", ".", "..")
            assert "/" not in value
            assert "\\" not in value
            assert "\x00" not in value


@PURE
@given(address=st.ip_addresses(), port=st.integers(1, 65535))
def test_every_ip_is_a_vip_with_a_valid_label_and_host(address: Any, port: int) -> None:
    vip = str(address)
    assert names.vip(vip) == []
    label = names.vip_label_value(vip)
    assert LABEL_VALUE.fullmatch(label)
    assert 0 < len(label) <= 63
    host = names.host_port(vip, port)
    assert host.rpartition(":")[2] == str(port)
    assert ipaddress.ip_address(host.rpartition(":")[0].strip("[]")) == address


@pytest.mark.parametrize(("kind", "name", "ok"), [
    ("Service", "orders-0", True), ("Service", "0rders", False), ("Namespace", "a.b", False),
    ("ConfigMap", "a.b", True), ("ClusterRole", "system:fedrender", True), ("ClusterRole", "../x", False),
    ("StatefulSet", "A", False), ("Secret", "x" * 254, False),
])
def test_each_kind_has_its_kubernetes_name_rule(kind: str, name: str, ok: bool) -> None:
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "team-a"}}
    assert (names.object_problems(obj) == []) == ok


def test_rendered_objects_with_a_path_as_kind_or_namespace_are_refused() -> None:
    bad = {"apiVersion": "v1", "kind": "../Secret", "metadata": {"name": "x", "namespace": "../x",
                                                                  "labels": {"a": "b c"}}}
    fields = {path for path, _ in names.object_problems(bad)}
    assert fields == {("kind",), ("metadata", "namespace"), ("metadata", "labels", "a")}
