"""``fedrender-reconciler``: the in-cluster loop. Configured from the environment:

FEDRENDER_CLUSTER         this member cluster's name (set per cluster by fedrender's OverridePolicy)
FEDRENDER_NAMESPACES      comma-separated namespaces to watch (empty: all)
FEDRENDER_RESYNC_SECONDS  how often every MongoReplicaSet is reconciled even without a change (default 60)
POD_NAME, POD_NAMESPACE   identity and namespace of the leader Lease
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client, config

from reconciler.decide import Noop, next_action
from reconciler.kube import Gone, Kube, now, roster
from reconciler.mongo import MongoAdapter, Temporary
from reconciler.status import build_status

log = logging.getLogger("fedrender.reconciler")


@dataclass(frozen=True)
class Settings:
    cluster: str
    namespaces: tuple[str, ...] = ()
    resync_seconds: int = 60
    identity: str = "fedrender-reconciler"
    lease_namespace: str = "fedrender-system"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        cluster = env.get("FEDRENDER_CLUSTER", "").strip()
        if not cluster:
            raise SystemExit("FEDRENDER_CLUSTER is not set: fedrender's OverridePolicy sets it in each member cluster")
        namespaces = tuple(n.strip() for n in env.get("FEDRENDER_NAMESPACES", "").split(",") if n.strip())
        return cls(cluster, namespaces, int(env.get("FEDRENDER_RESYNC_SECONDS", "60")),
                   env.get("POD_NAME", "fedrender-reconciler"), env.get("POD_NAMESPACE", "fedrender-system"))


@dataclass
class Reconciler:
    settings: Settings
    kube: Kube
    adapters: dict[str, MongoAdapter] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep

    def reconcile(self, obj: Mapping[str, Any]) -> str:
        """One step for one MongoReplicaSet; returns the phase it reported."""
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        mine = roster(obj, self.settings.cluster)
        adapter = self.adapters.setdefault(key, MongoAdapter(mine.name, {}))
        adapter.users = self.kube.credentials(obj)
        observed = adapter.observe(mine, self.kube.ready_hosts(obj))
        action = next_action(mine, observed)
        error = ""
        if not isinstance(action, Noop):
            try:
                adapter.act(mine, observed, action)
                self.kube.event(obj, type(action).__name__, action.reason)
            except Temporary as exc:
                error = str(exc)
            except Exception as exc:  # the loop goes on; the status says what failed
                error = f"{type(action).__name__} failed: {str(exc).splitlines()[0][:300]}"
                self.kube.event(obj, "ActionFailed", error, warning=True)
        status = build_status(int(meta.get("generation", 0)), mine, observed, action, error, now())
        self.kube.patch_status(obj, status)
        log.info("%s: %s (%s)", key, status["phase"], action.reason)
        return str(status["phase"])

    def reconcile_safely(self, obj: Mapping[str, Any]) -> None:
        """Reconcile one object; a failure there (a bad Secret, a forbidden read, a malformed spec) is logged and
        recorded on that object, and never stops the others."""
        try:
            self.reconcile(obj)
        except Exception as exc:
            message = f"cannot reconcile: {str(exc).splitlines()[0][:300]}"
            log.warning("%s: %s", _key(obj), message)
            self.kube.event(obj, "ReconcileFailed", message, warning=True)

    def run(self, stop: Callable[[], bool]) -> None:
        """List, reconcile everything, watch for changes until the resync is due, again; back off on errors."""
        delay = 1.0
        while not stop():
            try:
                if not self.kube.lead(self.settings.lease_namespace, "fedrender-reconciler", self.settings.identity,
                                      self.settings.resync_seconds * 2):
                    self.sleep(self.settings.resync_seconds / 4)
                    continue
                items, version = self.kube.list()
                seen: dict[str, int] = {}
                for obj in items:
                    self.reconcile_safely(obj)
                    seen[_key(obj)] = _generation(obj)
                for _, obj in self.kube.watch(version, self.settings.resync_seconds):
                    # Status patches (ours included) don't change the generation: only spec changes act now,
                    # everything else waits for the resync.
                    if seen.get(_key(obj)) == _generation(obj):
                        continue
                    self.reconcile_safely(obj)
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


def _key(obj: Mapping[str, Any]) -> str:
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"


def _generation(obj: Mapping[str, Any]) -> int:
    return int(obj["metadata"].get("generation", 0))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env(os.environ)
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    Reconciler(settings, Kube(client.ApiClient(), settings.cluster, settings.namespaces)).run(lambda: bool(stopping))
    sys.exit(0)
