"""The pod templates' hash (issue 14 section 3): on the roster (``spec.templateHash``) and on every StatefulSet
(``fedrender.io/template-hash``), changed by every pod template change (image, resources, mongod configuration,
the exporter, an override of the pod template) and by nothing else (a scale-up or scale-down changes replicas
and the roster, not the template)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.composer.templatehash import ANNOTATION, template_hash
from fedrender.models.state import PATH as STATE_FILE
from fedrender.models.state import State
from fedrender.pipeline.render import Inputs, render
from tests.topology import cluster_doc, write_inputs

CLUSTERS = [cluster_doc("a", "eu-central-1"), cluster_doc("b", "ap-south-1"), cluster_doc("c", "us-east-1")]
MIRRORS = {"registryMirrors": {"eu-central-1": "mirror.eu.example.com/hub", "ap-south-1": "mirror.ap.example.com/hub"}}
INSTANCE = "instances/team/db"


def render_db(tmp: Path, members: int, spec: dict[str, Any] | None = None, mirrors: bool = False,
              previous: State | None = None) -> tuple[dict[str, dict[str, Any]], State]:
    """team/db rendered over CLUSTERS: its objects by file name, and the state."""
    tmp.mkdir(parents=True, exist_ok=True)
    args = write_inputs(tmp, CLUSTERS, members)
    if spec:
        doc = yaml.safe_load(Path(args[1]).read_text())
        doc["spec"].update(spec)
        Path(args[1]).write_text(yaml.safe_dump(doc, sort_keys=False))
    overlays: list[Path] = []
    if mirrors:
        (tmp / "overlay").mkdir(exist_ok=True)
        (tmp / "overlay" / "mirrors.yaml").write_text(yaml.safe_dump(MIRRORS))
        overlays.append(tmp / "overlay")
    result = render(Inputs([Path(args[1])], Path(args[3]), overlays=overlays), previous)
    objects = {path.rsplit("/", 1)[1]: yaml.safe_load(data) for path, data in result.files.items()
               if path.startswith(INSTANCE + "/")}
    return objects, State.model_validate_json(result.files[STATE_FILE])


def hashes(objects: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str]]:
    """The roster's templateHash and each StatefulSet's annotation."""
    stamped = {name: obj["metadata"]["annotations"][ANNOTATION] for name, obj in objects.items()
               if obj["kind"] == "StatefulSet"}
    return objects["mongoreplicaset-db.yaml"]["spec"]["templateHash"], stamped


def test_the_roster_and_every_statefulset_carry_the_same_hash(tmp_path: Path) -> None:
    objects, _ = render_db(tmp_path, 4, {"config": {"arbiter": True}})
    value, stamped = hashes(objects)
    assert re.fullmatch("[0-9a-f]{16}", value)
    assert stamped == {"statefulset-db.yaml": value, "statefulset-db-arbiter.yaml": value}


POD_CHANGES = st.fixed_dictionaries({
    "image": st.sampled_from(["mongo:7.0", "mongo:8.0", "mongo:8.0.4"]),
    "cpu": st.sampled_from(["1", "2"]),
    "config": st.sampled_from(["", "db-mongod"]),
    "mirrors": st.booleans(),
})


def variant(change: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    spec = {"imageSetting": {"image": change["image"]},
            "resource": {"requests": {"cpu": change["cpu"], "memory": "1Gi"}}}
    if change["config"]:
        spec["config"] = {"configRef": change["config"]}
    return spec, change["mirrors"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(POD_CHANGES, POD_CHANGES)
def test_every_pod_template_change_changes_the_hash(tmp_path: Path, before: dict[str, Any],
                                                    after: dict[str, Any]) -> None:
    """Image, resources, mongod configuration (configRef) and a registry mirror override: a different value of
    any of them gives a different hash, the same values the same hash."""
    first, _ = render_db(tmp_path / "before", 3, *variant(before))
    second, _ = render_db(tmp_path / "after", 3, *variant(after))
    templates_differ = any(first[n]["spec"]["template"] != second[n]["spec"]["template"]
                           for n in first if first[n]["kind"] == "StatefulSet")
    assert templates_differ or before["mirrors"] != after["mirrors"] or before == after
    assert (hashes(first)[0] == hashes(second)[0]) is (before == after)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(3, 7), min_size=2, max_size=4), st.booleans(), st.booleans())
def test_a_scale_up_or_down_keeps_the_hash(tmp_path: Path, counts: list[int], mirrors: bool,
                                           arbiter: bool) -> None:
    """Members added or removed over clusters that already run the instance: the roster and replicas change,
    the hash does not (renders chained through the state, as in Git)."""
    spec = {"config": {"arbiter": True}} if arbiter else {}
    previous: State | None = None
    seen = set()
    for step, count in enumerate(counts):
        # An arbiter only with an even number of at most 6 data members (pack.yaml): keep it throughout (adding or
        # removing the arbiter's StatefulSet adds or removes a pod template).
        count = min(count + count % 2, 6) if arbiter else count
        objects, previous = render_db(tmp_path / str(step), count, spec, mirrors, previous)
        value, stamped = hashes(objects)
        assert set(stamped.values()) == {value}
        seen.add(value)
    assert len(seen) == 1


def test_a_single_member_grown_over_clusters_without_pod_template_overrides_keeps_the_hash(tmp_path: Path) -> None:
    """Without overrides of the pod template, a cluster that starts receiving the StatefulSet changes nothing."""
    one, state = render_db(tmp_path / "1", 1)
    five, _ = render_db(tmp_path / "5", 5, previous=state)
    assert hashes(one)[0] == hashes(five)[0]
    assert one["mongoreplicaset-db.yaml"]["spec"]["members"] != five["mongoreplicaset-db.yaml"]["spec"]["members"]


# --- the pure function, on hand-made objects


def statefulset(name: str = "db", image: str = "mongo:8.0", replicas: int = 3) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": "team"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "mongod", "image": image}, {"name": "metrics-exporter", "image": "exporter:0.44.0"}]}}}}


def policy(rules: list[tuple[list[str], dict[str, Any]]], target: str = "db") -> dict[str, Any]:
    return {"apiVersion": "policy.karmada.io/v1alpha1", "kind": "OverridePolicy",
            "metadata": {"name": f"{target}-statefulset", "namespace": "team"},
            "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": target,
                                            "namespace": "team"}],
                     "overrideRules": [{"targetCluster": {"clusterNames": c}, "overriders": o} for c, o in rules]}}


MIRROR = {"imageOverrider": [{"component": "Registry", "operator": "replace", "value": "mirror.example.com"}]}
LABELS = {"labelsOverrider": [{"operator": "add", "value": {"fedrender.io/cluster": "x"}}]}


def test_the_exporter_image_is_part_of_the_hash() -> None:
    changed = statefulset()
    changed["spec"]["template"]["spec"]["containers"][1]["image"] = "exporter:0.45.0"
    assert template_hash([statefulset()]) != template_hash([changed])
    assert template_hash([statefulset(replicas=3)]) == template_hash([statefulset(replicas=7)])
    assert template_hash([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}}]) == ""


@given(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True),
       st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True))
def test_which_cluster_receives_which_template_counts(left: list[str], right: list[str]) -> None:
    """An override of the pod template counts by the template each cluster receives: the same clusters with the
    same template give the same hash (however the rules are written), a cluster moved to another variant (a
    resource tier relabelled) changes it; an override outside the pod template (labels) does not count at all."""
    base = template_hash([statefulset()])
    assert template_hash([statefulset(), policy([(left, LABELS)])]) == base
    mirrored = template_hash([statefulset(), policy([(left, MIRROR)])])
    assert mirrored != base
    assert template_hash([statefulset(), policy([(left, LABELS), (left, MIRROR)])]) == mirrored
    assert (template_hash([statefulset(), policy([(right, MIRROR)])]) == mirrored) == (set(left) == set(right))
    other = copy.deepcopy(MIRROR)
    other["imageOverrider"][0]["value"] = "mirror2.example.com"
    assert template_hash([statefulset(), policy([(left, MIRROR), (right, other)])]) != mirrored


def test_an_override_of_another_object_or_one_karmada_cannot_apply_is_left_out() -> None:
    base = template_hash([statefulset()])
    assert template_hash([statefulset(), policy([(["a"], MIRROR)], target="other")]) == base
    broken = {"plaintext": [{"operator": "replace", "path": "/spec/template/spec/nothing/0", "value": 1}]}
    assert template_hash([statefulset(), policy([(["a"], broken)])]) == base


def test_a_statefulset_without_a_pod_template_still_hashes() -> None:
    """A pack's template may render a StatefulSet without spec (the API server then refuses it, and compose says so
    at the template's line): the hash is still a value, never a crash."""
    bare = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "team"}}
    assert re.fullmatch("[0-9a-f]{16}", template_hash([bare, policy([(["a"], MIRROR)])]))
    assert template_hash([bare]) != template_hash([statefulset()])
