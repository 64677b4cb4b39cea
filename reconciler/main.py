"""``fedrender-reconciler``: the in-cluster loop, and its command line.

Every setting is a flag whose default comes from an environment variable (``--cluster``/FEDRENDER_CLUSTER,
...; see ``fedrender-reconciler --help``). ``--help`` and ``--version`` need neither a cluster nor an
environment; a missing required setting is a usage error (exit 2) naming the flag and the variable.

After an action the reconciler observes again at once (backing off on errors) until there is nothing to
do; an object still on its way (a member syncing, an action retried) is looked at again after
``--settle-seconds``, a Ready one after ``--resync-seconds``. Status is written once per pass, and only
when it changed.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from reconciler import storage
from reconciler.decide import Action, Noop, Observed, RestartMember, Rollout, Roster, next_action
from reconciler.kube import Gone, Kube, now, roster
from reconciler.mongo import MongoAdapter, Temporary
from reconciler.status import build_status

log = logging.getLogger("fedrender.reconciler")
TROUBLED_STATES = {"ROLLBACK", "RECOVERING"}


@dataclass(frozen=True)
class Settings:
    cluster: str
    namespaces: tuple[str, ...] = ()
    resync_seconds: int = 60
    identity: str = "fedrender-reconciler"
    lease_namespace: str = "fedrender-system"
    settle_seconds: float = 2.0
    stuck_seconds: float = 300.0
    max_steps: int = 25


@dataclass
class Pass:
    """One observe-decide-act step: what the status is built from."""

    roster: Roster
    observed: Observed
    action: Action
    error: str = ""
    reason: str = ""
    retry_after: float = 0.0
    storage: storage.Seen = field(default_factory=storage.Seen)


@dataclass
class Reconciler:
    settings: Settings
    kube: Kube
    adapters: dict[str, MongoAdapter] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    reported: dict[str, dict[str, Any]] = field(default_factory=dict)
    troubled: dict[tuple[str, str], float] = field(default_factory=dict)
    restarting: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Per object: the claimed host whose restart is under way and since when (this reconciler's clock)."""

    def reconcile(self, obj: Mapping[str, Any]) -> str:
        """Act on one MongoReplicaSet until there is nothing to do now; write its status once; return the phase."""
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        users, problems = self.kube.credentials(obj)
        delay, errors = 0.5, 0
        for _ in range(self.settings.max_steps):
            step = self._step(key, obj, users)
            if step.error:
                errors += 1
                if errors > 3 or step.retry_after > 10:
                    break  # looked at again after settle_seconds
                self.sleep(min(max(step.retry_after, delay), 10.0))
                delay *= 2
                continue
            if isinstance(step.action, Noop):
                break
        previous = self.reported.get(key) or dict(obj.get("status") or {})
        status = build_status(int(meta.get("generation", 0)), step.roster, step.observed, step.action, now(),
                              error=step.error, error_reason=step.reason, problems=problems,
                              stuck=self._stuck(key, step.observed),
                              restart_stuck=self._restart_stuck(key, step.observed),
                              previous=previous.get("conditions", []), storage=storage.report(step.storage))
        if step.observed.auth_failed and _ready_reason(previous) != "AuthenticationFailed":
            self.kube.event(obj, "AuthenticationFailed", step.observed.auth_failed, warning=True)
        if status != previous:
            self.kube.patch_status(obj, status)
            self.reported[key] = status
        log.info("%s: %s (%s)", key, status["phase"], step.error or step.action.reason)
        return str(status["phase"])

    def observe(self, key: str, obj: Mapping[str, Any], users: Mapping[str, Any]) -> tuple[Roster, Observed]:
        """The roster and what this cluster sees of the set (and, with a template hash, of the rollout)."""
        mine = roster(obj, self.settings.cluster)
        adapter = self.adapters.setdefault(key, MongoAdapter(mine.name, {}, self.settings.cluster))
        adapter.users = users
        observed = adapter.observe(mine, self.kube.ready_hosts(obj))
        if mine.template_hash:  # a rollout is judged against the rendered templates
            workloads = self.kube.statefulsets(obj)
            found = adapter.read_rollout(observed) if observed.primary else Rollout()
            observed = replace(observed, rollout=replace(found, workloads=workloads,
                                                         pods=self.kube.pods(obj, workloads)))
        return mine, observed

    def _step(self, key: str, obj: Mapping[str, Any], users: Mapping[str, Any]) -> Pass:
        if "root" not in users:  # nothing can be read or done without root; the status names the Secret
            return Pass(roster(obj, self.settings.cluster), Observed(),
                        Noop("waiting for usable root credentials (see UsersReady)"))
        mine, observed = self.observe(key, obj, users)
        adapter = self.adapters[key]
        action = next_action(mine, observed)
        seen = self.kube.observe_storage(obj, mine)
        if isinstance(action, Noop) and isinstance(grow := storage.next_action(seen), storage.ResizeClaim):
            action = grow  # a Kubernetes-only step, in every cluster for its own claims, once MongoDB is idle
        if isinstance(action, Noop):
            return Pass(mine, observed, action, storage=seen)
        try:
            if isinstance(action, storage.ResizeClaim):  # Kubernetes actions; the rest go to MongoDB
                self.kube.resize_claim(obj, action)
            elif isinstance(action, RestartMember):
                self.kube.delete_pod(obj, action.pod, action.uid)
            else:
                adapter.act(mine, observed, action)
        except ApiException as exc:
            if exc.status not in (404, 409) or not isinstance(action, RestartMember):
                return self._failed(obj, mine, observed, action, f"HTTP {exc.status} {exc.reason}", seen)
            # the pod was already deleted or recreated since it was observed: observe again
            return Pass(mine, observed, action, f"pod {action.pod} changed since it was observed (HTTP {exc.status})",
                        "PodChanged", 1.0, seen)
        except Temporary as exc:
            return Pass(mine, observed, action, str(exc), exc.reason, exc.retry_after, seen)
        except Exception as exc:  # the loop goes on; the status and an Event say what failed
            return self._failed(obj, mine, observed, action, str(exc), seen)
        self.kube.event(obj, type(action).__name__, action.reason)
        return Pass(mine, observed, action, storage=seen)

    def _failed(self, obj: Mapping[str, Any], mine: Roster, observed: Observed, action: Action, why: str,
                seen: storage.Seen) -> Pass:
        error = f"{type(action).__name__} failed: {(why.splitlines() or [''])[0][:300]}"
        self.kube.event(obj, "ActionFailed", error, warning=True)
        return Pass(mine, observed, action, error, "ActionFailed", 60.0, seen)

    def _stuck(self, key: str, observed: Observed) -> frozenset[str]:
        """Members in ROLLBACK or RECOVERING for longer than ``stuck_seconds``."""
        moment = self.clock()
        troubled = {h for h, s in observed.states.items() if s in TROUBLED_STATES}
        for (k, host) in [k for k in self.troubled if k[0] == key and k[1] not in troubled]:
            del self.troubled[(k, host)]
        since = {h: self.troubled.setdefault((key, h), moment) for h in troubled}
        return frozenset(h for h, t in since.items() if moment - t > self.settings.stuck_seconds)

    def _restart_stuck(self, key: str, observed: Observed) -> str:
        """The host of the restart slot when its restart has lasted longer than ``stuck_seconds`` (the claim is
        kept: a person looks), else ""."""
        claim = observed.rollout.claim
        if claim is None:
            self.restarting.pop(key, None)
            return ""
        host, since = self.restarting.get(key, ("", 0.0))
        if host != claim.host:
            host, since = self.restarting[key] = (claim.host, self.clock())
        return host if self.clock() - since > self.settings.stuck_seconds else ""

    def reconcile_safely(self, obj: Mapping[str, Any]) -> float:
        """Reconcile one object and return when to look again (seconds); a failure there (a bad Secret, a
        forbidden read, a malformed spec) is logged and recorded on that object, and never stops the others."""
        try:
            phase = self.reconcile(obj)
        except Exception as exc:
            message = f"cannot reconcile: {str(exc).splitlines()[0][:300]}"
            log.warning("%s: %s", _key(obj), message)
            self.kube.event(obj, "ReconcileFailed", message, warning=True)
            return float(self.settings.resync_seconds)
        return float(self.settings.resync_seconds) if phase == "Ready" else self.settings.settle_seconds

    def run(self, stop: Callable[[], bool]) -> None:
        """List, reconcile what is due, watch for spec changes until the next is due, again; back off on errors."""
        delay = 1.0
        due: dict[str, float] = {}
        seen: dict[str, int] = {}
        while not stop():
            try:
                if not self.kube.lead(self.settings.lease_namespace, "fedrender-reconciler", self.settings.identity,
                                      self.settings.resync_seconds * 2):
                    self.sleep(self.settings.resync_seconds / 4)
                    continue
                items, resource_version = self.kube.list()
                for obj in items:
                    key = _key(obj)
                    if due.get(key, 0.0) <= self.clock() or seen.get(key) != _generation(obj):
                        due[key] = self.clock() + self.reconcile_safely(obj)
                        seen[key] = _generation(obj)
                wait = min([*due.values(), self.clock() + self.settings.resync_seconds]) - self.clock()
                for _, obj in self.kube.watch(resource_version, max(1, min(int(wait), self.settings.resync_seconds))):
                    # Status patches (ours included) don't change the generation: only spec changes act now.
                    if seen.get(_key(obj)) == _generation(obj):
                        continue
                    due[_key(obj)] = self.clock() + self.reconcile_safely(obj)
                    seen[_key(obj)] = _generation(obj)
                    if stop():
                        return
                delay = 1.0
            except Gone:
                continue  # list again from scratch
            except Exception as exc:
                log.warning("reconcile loop: %s; retrying in %.0fs", str(exc).splitlines()[0][:300], delay)
                self.sleep(delay)
                delay = min(delay * 2, 60.0)


def _ready_reason(status: Mapping[str, Any]) -> str:
    return next((str(c.get("reason", "")) for c in status.get("conditions", []) if c.get("type") == "Ready"), "")


def _key(obj: Mapping[str, Any]) -> str:
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"


def _generation(obj: Mapping[str, Any]) -> int:
    return int(obj["metadata"].get("generation", 0))


def _version() -> str:
    try:
        return version("fedrender")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "unknown"


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--cluster", envvar="FEDRENDER_CLUSTER", show_envvar=True, default="",
              help="This member cluster's name (fedrender's OverridePolicy sets the variable per cluster).  [required]")
@click.option("--namespaces", envvar="FEDRENDER_NAMESPACES", show_envvar=True, default="",
              help="Comma-separated namespaces to watch; empty: all.")
@click.option("--resync-seconds", envvar="FEDRENDER_RESYNC_SECONDS", show_envvar=True, default=60,
              type=click.IntRange(min=1), help="Reconcile every Ready MongoReplicaSet at least this often.")
@click.option("--settle-seconds", envvar="FEDRENDER_SETTLE_SECONDS", show_envvar=True, default=2.0,
              type=click.FloatRange(min=0.1), help="Look again this soon at a MongoReplicaSet that is not Ready.")
@click.option("--stuck-seconds", envvar="FEDRENDER_STUCK_SECONDS", show_envvar=True, default=300.0,
              type=click.FloatRange(min=1),
              help="A member in ROLLBACK or RECOVERING, or a member's restart, this long makes it Degraded.")
@click.option("--identity", envvar="POD_NAME", show_envvar=True, default="fedrender-reconciler",
              help="Holder identity of the leader Lease (the Downward API's pod name).")
@click.option("--lease-namespace", envvar="POD_NAMESPACE", show_envvar=True, default="fedrender-system",
              help="Namespace of the leader Lease (the Downward API's pod namespace).")
@click.option("--kubeconfig", envvar="KUBECONFIG", show_envvar=True, default="",
              help="Use this kubeconfig instead of the in-cluster service account.")
@click.option("--log-level", envvar="FEDRENDER_LOG_LEVEL", show_envvar=True, default="INFO",
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(_version(), prog_name="fedrender-reconciler")
def main(cluster: str, namespaces: str, resync_seconds: int, settle_seconds: float, stuck_seconds: float,
         identity: str, lease_namespace: str, kubeconfig: str, log_level: str) -> None:
    """Initiate and reconfigure the MongoDB replica set of every MongoReplicaSet in this member cluster, one
    safe step at a time, and report their status."""
    if not cluster.strip():
        raise click.UsageError("--cluster (or the environment variable FEDRENDER_CLUSTER) is required: the name "
                               "of this member cluster, which fedrender's OverridePolicy sets")
    settings = Settings(cluster.strip(), tuple(n.strip() for n in namespaces.split(",") if n.strip()),
                        resync_seconds, identity, lease_namespace, settle_seconds, stuck_seconds)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if kubeconfig:
            config.load_kube_config(kubeconfig)
        else:
            config.load_incluster_config()
    except config.ConfigException as exc:
        raise click.ClickException(f"cannot reach the Kubernetes API: {exc}") from None
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    Reconciler(settings, Kube(client.ApiClient(), settings.cluster, settings.namespaces)).run(lambda: bool(stopping))
