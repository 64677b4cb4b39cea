"""What the MongoDB pack renders for the reconciler: least-privilege RBAC (no Secret access without
resourceNames) and root's password only ever in a mounted Secret file, never in a rendered file or an env value."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import DEMO_ARGS, SPECS, run

CANARY = "Canary-Passw0rd-7f3a"


def objects(out: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(out.rglob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if isinstance(obj, dict):
                yield str(path.relative_to(out)), obj


def secret_access_without_names(obj: dict[str, Any]) -> list[str]:
    """Rules of a Role or ClusterRole that reach Secrets without naming them, or with more than ``get``."""
    if obj.get("kind") not in ("Role", "ClusterRole"):
        return []
    wrong = []
    for rule in obj.get("rules") or []:
        groups, resources = set(rule.get("apiGroups") or []), set(rule.get("resources") or [])
        if not (groups & {"", "*"} and resources & {"secrets", "*"}):
            continue
        if not rule.get("resourceNames") or not set(rule.get("verbs") or []) <= {"get"}:
            wrong.append(f"{obj['kind']} {obj['metadata']['name']}: {rule}")
    return wrong


def test_no_secret_access_without_resource_names(rendered: Path) -> None:
    found = [w for _, obj in objects(rendered) for w in secret_access_without_names(obj)]
    assert found == []
    roles = {(o["metadata"]["namespace"], o["metadata"]["name"]): o
             for _, o in objects(rendered) if o["kind"] == "Role"}
    instances = [o for _, o in objects(rendered) if o["kind"] == "MongoReplicaSet"]
    assert instances
    for mrs in instances:
        meta = mrs["metadata"]
        role = roles[(meta["namespace"], f"fedrender-reconciler-{meta['name']}")]
        names = {(r, v): set(rule["resourceNames"]) for rule in role["rules"] for r in rule["resources"]
                 for v in rule["verbs"]}
        sts = mrs["spec"]["statefulSetName"]
        data = [m for m in mrs["spec"]["members"] if not m.get("arbiterOnly")]
        arbiter = any(m.get("arbiterOnly") for m in mrs["spec"]["members"])
        claims = {f"data-{sts}-{m['ordinal']}" for m in data}  # exactly the data claims of its pods (storage.py)
        assert names == {  # exactly what it reads, and exactly the pods it may restart (rolling restarts)
            ("secrets", "get"): {u["secretName"] for u in mrs["spec"]["users"].values()},
            ("statefulsets", "get"): {sts} | ({f"{sts}-arbiter"} if arbiter else set()),
            ("pods", "delete"): {f"{sts}-{m['ordinal']}" for m in data} | ({f"{sts}-arbiter-0"} if arbiter else set()),
            ("persistentvolumeclaims", "get"): claims, ("persistentvolumeclaims", "patch"): claims}


def test_the_check_is_not_vacuous() -> None:
    wide = {"kind": "ClusterRole", "metadata": {"name": "x"},
            "rules": [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get"]}]}
    star = {"kind": "Role", "metadata": {"name": "y"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"], "resourceNames": ["a"]},
                      {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"], "resourceNames": ["b"]}]}
    assert len(secret_access_without_names(wide)) == 1
    assert len(secret_access_without_names(star)) == 1


def test_the_cluster_wide_role_keeps_only_what_must_be(rendered: Path) -> None:
    role = next(o for _, o in objects(rendered) if o["kind"] == "ClusterRole" and
                o["metadata"]["name"] == "fedrender-reconciler")
    granted = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert granted == {("mongoreplicasets", "get"), ("mongoreplicasets", "list"), ("mongoreplicasets", "watch"),
                       ("mongoreplicasets/status", "get"), ("mongoreplicasets/status", "patch"),
                       ("mongoreplicasets/status", "update"), ("pods", "list"), ("events", "create"),
                       ("events", "patch"), ("storageclasses", "get")}


def test_root_reaches_mongod_only_through_a_mounted_secret_file(rendered: Path) -> None:
    statefulsets = [o for _, o in objects(rendered) if o["kind"] == "StatefulSet"
                    and o["metadata"]["labels"].get("app.kubernetes.io/name") == "mongodb"]
    data = [s for s in statefulsets if not s["metadata"]["name"].endswith("-arbiter")]
    assert data
    for sts in statefulsets:
        name = sts["metadata"]["labels"]["app.kubernetes.io/instance"]
        pod = sts["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            for env in container.get("env", []):
                assert env["name"] not in ("MONGO_INITDB_ROOT_PASSWORD", "MONGO_INITDB_ROOT_USERNAME")
                ref = (env.get("valueFrom") or {}).get("secretKeyRef", {})
                assert ref.get("name") != f"{name}-root", (sts["metadata"]["name"], env)
            assert not container.get("envFrom")
    for sts in data:
        name = sts["metadata"]["name"]
        pod = sts["spec"]["template"]["spec"]
        mongod = pod["containers"][0]
        env = {e["name"]: e.get("value") for e in mongod["env"]}
        assert env["MONGO_INITDB_ROOT_USERNAME_FILE"] == "/etc/mongo-root/username"
        assert env["MONGO_INITDB_ROOT_PASSWORD_FILE"] == "/etc/mongo-root/password"
        volume = next(v for v in pod["volumes"] if v["name"] == "root-secret")
        assert volume["secret"]["secretName"] == f"{name}-root"
        assert {"name": "root-secret", "mountPath": "/etc/mongo-root", "readOnly": True} in mongod["volumeMounts"]
        assert mongod["args"][0] == "mongod"  # args, not command: the image's entrypoint runs first


def test_no_password_appears_in_any_rendered_file_or_message(tmp_path: Path) -> None:
    spec = yaml.safe_load((SPECS / "fedstate-readme-sample.yaml").read_text())
    spec.setdefault("spec", {}).setdefault("auth", {})["rootPasswd"] = CANARY
    spec["spec"]["imageSetting"]["imagePullSecret"] = {"user": "robot", "passwd": CANARY}
    specs = tmp_path / "specs.yaml"
    specs.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    refused = run(["render", *DEMO_ARGS[2:], "--specs", str(specs), "--out", str(out)])
    assert refused.exit_code == 1
    assert CANARY not in refused.stdout + refused.stderr
    assert not out.exists() or all(CANARY not in p.read_text() for p in out.rglob("*") if p.is_file())
    del spec["spec"]["auth"], spec["spec"]["imageSetting"]["imagePullSecret"]
    specs.write_text(yaml.safe_dump(spec))
    done = run(["render", *DEMO_ARGS[2:], "--specs", str(specs), "--out", str(out)])
    assert done.exit_code == 0, done.stderr
    texts = [p.read_text() for p in out.rglob("*") if p.is_file()]
    assert texts
    assert all(CANARY not in t and "rootPasswd" not in t for t in texts)
