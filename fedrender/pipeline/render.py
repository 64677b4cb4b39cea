"""Render every instance: load, validate, schedule (sticky, from the previous state), compose, emit.

Returns the whole output in memory; writing it is :mod:`fedrender.pipeline.write`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from fedrender.cel.engine import EvalError
from fedrender.day2 import observe
from fedrender.day2.rollout import rollout
from fedrender.models import names
from fedrender.models.cluster import Cluster
from fedrender.models.diagnostics import Diagnostic, Diagnostics, InputError, Location
from fedrender.models.inputfile import read_text
from fedrender.models.observed import KIND as OBSERVED_KIND
from fedrender.models.observed import ObservedReplicaSet
from fedrender.models.overlay import Overlay
from fedrender.models.state import PATH as STATE_FILE
from fedrender.models.state import READ_VERSIONS, InstanceState, State, duplicate_key, state_location
from fedrender.models.views import MetadataView
from fedrender.pipeline import compose, lifecycle
from fedrender.pipeline.load import (
    SpecInput,
    digest,
    load_overlay,
    load_packs,
    load_snapshot,
    load_specs,
    overlay_files,
    yaml_files,
)
from fedrender.pipeline.schedule import InstanceResult, Planned, Prepared, Snapshot, plan, prepare
from fedrender.rules import evaluate
from fedrender.rules import settings as pack_settings
from fedrender.rules.pack import Pack

__all__ = ["STATE_FILE", "Inputs", "InstanceResult", "RenderResult", "parse_state", "read_state", "render"]


@dataclass(frozen=True)
class Inputs:
    specs: Sequence[Path]
    clusters: Path
    rules: Path | None = None
    overlays: Sequence[Path] = ()
    stdin: bytes = b""
    """What standard input held, for a spec or clusters path of ``-`` (load.STDIN); read once by the caller."""


@dataclass
class RenderResult:
    instances: list[InstanceResult]
    files: dict[str, bytes]
    warnings: list[Diagnostic]


def read_state(out: Path | None, state_file: Path | None = None) -> State | None:
    """The state of the last render into ``out`` (or in ``state_file``); None when there is none.

    A damaged one is an input error."""
    if state_file is not None:
        path = state_file
    elif out is not None:
        path = out / STATE_FILE
    else:
        return None
    if not path.exists() and not path.is_symlink():
        if state_file is not None:  # asked for explicitly: a typo must not silently re-place every member
            raise InputError([Diagnostic("no such state file (leave out --state to start without one)",
                                         Location(str(path)))])
        return None
    try:
        text = read_text(path)  # a regular UTF-8 file (never a FIFO that would block)
    except InputError as exc:
        raise InputError([Diagnostic(f"cannot read the state file: {d.message}", d.location)
                          for d in exc.diagnostics]) from None
    return parse_state(text, str(path))


def parse_state(text: str | bytes, name: str) -> State:
    """A state file's contents as a State; InputError at the line and column of the first problem (a key
    repeated in one object first: JSON readers would silently keep its last value)."""
    repeated = duplicate_key(name, text)
    if repeated is not None:
        raise InputError([Diagnostic(f"cannot use the state file: {repeated.message}. Restore it from Git, or "
                                     "delete it to place every member afresh", repeated.location,
                                     repeated.field_path)])
    try:
        return State.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        found = first["loc"] == ("schemaVersion",) and first["type"] != "missing"
        hint = (f"it has schemaVersion {first['input']!r}; this fedrender reads versions "
                f"{' and '.join(map(str, READ_VERSIONS))}"
                if found else f"its parts disagree: {first['msg']}" if first["type"] == "inconsistent_state"
                else f"it is not a fedrender state file ({first['msg']})")
        below = tuple(first.get("ctx", {}).get("at", ()))  # an inconsistency found by a model: its entry
        where, field_path = state_location(name, text, (*first["loc"], *below))
        raise InputError([Diagnostic(f"cannot use the state file: {hint}. Restore it from Git, or delete it to "
                                     "place every member afresh", where, field_path)]) from None


def render(inputs: Inputs, previous: State | None = None,
           progress: Callable[[int, int], None] | None = None) -> RenderResult:
    """Everything render would write, or InputError listing every problem. Writes nothing.

    ``previous`` makes placement sticky; ``progress(done, total)`` is called as instances are scheduled.
    """
    packs = load_packs(inputs.rules)
    diagnostics = Diagnostics()
    specs = load_specs(inputs.specs, packs, diagnostics, inputs.stdin)
    try:
        loaded = load_snapshot(inputs.clusters, inputs.stdin)
        clusters, observed = loaded.clusters, loaded.observed
        overlay = load_overlay(inputs.overlays)
    except InputError as exc:  # without clusters nothing can be scheduled: report what we have
        diagnostics.extend(exc.diagnostics)
        diagnostics.raise_if_errors()
    snapshot = Snapshot(clusters, overlay)
    diagnostics.extend(_unknown_overlay_clusters(overlay, clusters))
    diagnostics.extend(_shared_vips(overlay, clusters))
    wrong_settings = [p for pack in packs for p in pack_settings.problems(pack.name, pack.settings, overlay)]
    diagnostics.extend(wrong_settings)
    diagnostics.extend(pack_settings.misnamed_packs([pack.name for pack in packs], overlay))
    if wrong_settings:  # values.<pack> are the pack's settings: no rule may read a wrong one
        diagnostics.raise_if_errors()
    prepared: list[Prepared] = []
    seen: dict[tuple[str, str], SpecInput] = {}
    for spec in specs:
        meta = _metadata(spec)
        key = (meta.namespace, meta.name)
        if key in seen:
            diagnostics.add(Diagnostic(f"{meta.namespace}/{meta.name} is also defined at "
                                       f"{seen[key].doc.location(('metadata', 'name'))}",
                                       spec.doc.location(("metadata", "name")), "metadata.name"))
            continue
        seen[key] = spec
        try:
            ready = prepare(spec, meta, snapshot, diagnostics)
        except EvalError as exc:
            diagnostics.add(evaluate.failure(exc, spec.doc))
            continue
        if ready is not None:
            prepared.append(ready)
    shortage = compose.port_shortage(prepared, len(clusters), overlay)
    if shortage:  # NodePorts run out whatever the placement: say so now, not after scheduling every instance
        diagnostics.extend(shortage)
        diagnostics.raise_if_errors()
    planned: list[Planned] = []
    for done, ready in enumerate(prepared, start=1):
        if progress is not None:
            progress(done, len(prepared))
        before = previous.instances.get(f"{ready.meta.namespace}/{ready.meta.name}") if previous else None
        observation = _observe(ready.spec.pack, ready.meta, observed, before)
        try:
            item = plan(ready, snapshot, before, diagnostics, observation)
        except EvalError as exc:
            diagnostics.add(evaluate.failure(exc, ready.spec.doc))
            continue
        if item is not None:
            if observation is not None:
                item.result.observed = observation.summary()
                item.result.observed_text = observation.text()
                item.result.initialized = observe.initialized(before, observation)
            try:
                lifecycle.apply(item, observation, overlay, diagnostics)
            except EvalError as exc:
                diagnostics.add(evaluate.failure(exc, ready.spec.doc))
                continue
            planned.append(item)
    diagnostics.raise_if_errors()
    planned.sort(key=lambda p: (p.result.namespace, p.result.name))
    files = compose.compose(planned, overlay, diagnostics)
    diagnostics.raise_if_errors()
    for item in planned:
        item.result.rollout = rollout(observed.get(f"{item.result.namespace}/{item.result.name}"),
                                      item.result.template_hash)
    results = [p.result for p in planned]
    sources = digest([*yaml_files(inputs.specs), inputs.clusters, *overlay_files(inputs.overlays)], inputs.stdin)
    files[STATE_FILE] = compose.state(packs, sources, results, sorted(files))
    return RenderResult(results, dict(sorted(files.items())), diagnostics.warnings)


def _observe(pack: Pack, meta: MetadataView, observed: Mapping[str, ObservedReplicaSet],
             previous: InstanceState | None) -> observe.Observation | None:
    """The observed state of one instance, judged before it is planned (a scale-down's second phase needs it):
    its result gets the summary ``explain`` shows and ``initialized`` (the previous state's or the observation's;
    never false again once true). None for a pack that renders no MongoReplicaSet, the object whose aggregated
    status is observed."""
    if not any(t.template.kind == OBSERVED_KIND for t in pack.templates):
        return None  # the pack renders no MongoReplicaSet: there is nothing to observe
    key = f"{meta.namespace}/{meta.name}"
    return observe.observe(key, observed.get(key), previous)


def _metadata(spec: SpecInput) -> MetadataView:
    meta = spec.model.model_dump(by_alias=True)["metadata"]
    return MetadataView(name=meta["name"], namespace=meta.get("namespace") or "default",
                        labels=meta.get("labels") or {}, annotations=meta.get("annotations") or {})


def _shared_vips(overlay: Overlay, clusters: Sequence[Cluster]) -> list[Diagnostic]:
    """An error for each cluster whose VIP (the overlay's ``clusters.<name>.vip``, else its ``vip`` label) another
    cluster has too: members of one instance in both would get the same host (``VIP:nodePort``, the nodePort being
    the ordinal's), which MongoDB refuses in a replica set config; located where the later one is set."""
    owners: dict[str, str] = {}
    out = []
    for cluster in clusters:  # sorted by name
        name = cluster.metadata.name
        from_overlay = name in overlay.clusters and overlay.clusters[name].vip
        vip = overlay.clusters[name].vip if from_overlay else cluster.metadata.labels.get("vip", "")
        if not vip:
            continue
        key = names.canonical_address(vip)
        if key in owners:
            where, field = ((overlay.source("clusters", name, "vip"), f"clusters.{name}.vip") if from_overlay
                            else (cluster.vip_location, "metadata.labels.vip"))
            out.append(Diagnostic(f"clusters {owners[key]} and {name} have the same VIP {vip}: members of one "
                                  "instance in both would get the same host (VIP:nodePort), which MongoDB refuses in "
                                  "a replica set; give each cluster its own address", where, field))
        else:
            owners[key] = name
    return out


def _unknown_overlay_clusters(overlay: Overlay, clusters: Sequence[Cluster]) -> list[Diagnostic]:
    """A warning for each overlay ``clusters.<name>`` that names no cluster of the snapshot (a misspelt name
    would otherwise leave that cluster without its VIP or reservations, silently)."""
    known = {c.metadata.name for c in clusters}
    return [Diagnostic(f"the overlay sets cluster {name!r}, which is not in the snapshot (clusters: "
                       f"{', '.join(sorted(known)) or 'none'}); is the name misspelt?",
                       overlay.source("clusters", name), f"clusters.{name}", severity="warning")
            for name in sorted(overlay.clusters) if name not in known]
