"""Running the Lua fedrender ships under a real Lua 5.1 (lupa), as Karmada (gopher-lua, Lua 5.1) and Argo CD
(gopher-lua) run it: Karmada's ResourceInterpreterCustomization for MongoReplicaSet
(rules/mongodb/platform/interpreter.yaml) and Argo CD's health check (gitops/argocd-cm.yaml)."""

from __future__ import annotations

from typing import Any

import yaml
from lupa import lua51

from tests.conftest import ROOT

INTERPRETER = yaml.safe_load((ROOT / "rules" / "mongodb" / "platform" / "interpreter.yaml").read_text())
SCRIPTS = {name: c["luaScript"] for name, c in INTERPRETER["spec"]["customizations"].items()}
HEALTH = yaml.safe_load((ROOT / "gitops" / "argocd-cm.yaml").read_text())["data"][
    "resource.customizations.health.fedrender.io_MongoReplicaSet"]


def to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({k: to_lua(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, v) for v in value])
    return value


def to_python(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    items = dict(value.items())
    if items and all(isinstance(k, int) for k in items):
        return [to_python(items[i]) for i in range(1, len(items) + 1)]
    return {k: to_python(v) for k, v in items.items()}


def call(script: str, function: str, *args: Any) -> Any:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    assert runtime.eval("_VERSION") == "Lua 5.1"
    runtime.execute(script)
    return to_python(runtime.globals()[function](*(to_lua(runtime, a) for a in args)))


def aggregate_status(desired: dict[str, Any], items: list[tuple[str, dict[str, Any] | None]]) -> dict[str, Any]:
    """Karmada's AggregateStatus of ``desired`` (the control plane's object) over (cluster, reflected status)."""
    status_items = [{"clusterName": name, **({"status": status} if status is not None else {})}
                    for name, status in items]
    return call(SCRIPTS["statusAggregation"], "AggregateStatus", desired, status_items)  # type: ignore[no-any-return]


def interpret_health(obj: dict[str, Any]) -> bool:
    """Karmada's InterpretHealth of the control plane's object."""
    return call(SCRIPTS["healthInterpretation"], "InterpretHealth", obj) is True


def argocd_health(obj: dict[str, Any]) -> dict[str, Any]:
    """Argo CD's health of ``obj`` (``{status, message}``)."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals()["obj"] = to_lua(runtime, obj)
    return to_python(runtime.execute(HEALTH))  # type: ignore[no-any-return]
