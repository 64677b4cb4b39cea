"""The MongoDB adapter: observe the replica set and carry out one action, with pymongo.

Every connection is direct (``directConnection=true``) to one member. Before the root user exists the
reconciler relies on the localhost exception (see the README of this package: in a cluster that means
running through the pod, which this adapter reaches as ``bootstrap_host``); afterwards it authenticates
as root. Error codes handled: 23 AlreadyInitialized (success), 94 NotYetInitialized (not initiated),
74 NodeNotFound, 109 ConfigurationInProgress and 308 CurrentConfigNotCommittedYet (retried with backoff).
Passwords are never logged: :class:`Credentials` hides them from ``repr``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pymongo import MongoClient
from pymongo.errors import AutoReconnect, ConnectionFailure, OperationFailure, PyMongoError

from reconciler.decide import (
    Action,
    AddMember,
    ChangeVotes,
    CreateUser,
    Initiate,
    Member,
    Noop,
    Observed,
    RemoveMember,
    Roster,
    StepDown,
    apply,
)

log = logging.getLogger("fedrender.reconciler.mongo")

UNAUTHORIZED = 13
AUTHENTICATION_FAILED = 18
ALREADY_INITIALIZED = 23
NOT_YET_INITIALIZED = 94
NODE_NOT_FOUND = 74
CONFIGURATION_IN_PROGRESS = 109
CONFIG_NOT_COMMITTED = 308
RETRIED = {NODE_NOT_FOUND, CONFIGURATION_IN_PROGRESS, CONFIG_NOT_COMMITTED}
ROLES = {"root": [{"role": "root", "db": "admin"}],
         "clusterAdmin": [{"role": "clusterAdmin", "db": "admin"}],
         "clusterMonitor": [{"role": "clusterMonitor", "db": "admin"}, {"role": "read", "db": "local"}]}


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)


class Temporary(Exception):
    """Try again later (after ``retry_after`` seconds)."""

    def __init__(self, message: str, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class MongoAdapter:
    set_name: str
    users: Mapping[str, Credentials]
    timeout_ms: int = 2000
    attempts: int = 5
    backoff: float = 0.2
    sleep: Callable[[float], None] = time.sleep
    known_local: set[str] = field(default_factory=set)
    """Hosts of this cluster in the last observed config: still reachable after the roster dropped them."""

    @contextmanager
    def client(self, host: str, auth: bool = True) -> Iterator[MongoClient[dict[str, Any]]]:
        root = self.users.get("root") if auth else None
        options: dict[str, Any] = {"directConnection": True, "serverSelectionTimeoutMS": self.timeout_ms,
                                   "connectTimeoutMS": self.timeout_ms, "socketTimeoutMS": self.timeout_ms * 5}
        if root is not None:
            options.update(username=root.user, password=root.password, authSource="admin",
                           authMechanism="SCRAM-SHA-256")
        client: MongoClient[dict[str, Any]] = MongoClient(f"mongodb://{host}/", **options)
        try:
            yield client
        finally:
            client.close()

    # --- observing

    def observe(self, roster: Roster, ready_pods: frozenset[str]) -> Observed:
        """What the first reachable local member says: as root, or through the localhost exception while
        root does not exist yet (authentication fails with code 18)."""
        hosts = [m.host for m in roster.local()] + sorted(self.known_local - {m.host for m in roster.local()})
        best: Observed | None = None
        for host in hosts:  # every local member: a fresh one knows no config, an older one does
            if host not in ready_pods:
                continue
            seen = self._observe_host(host, ready_pods)
            if seen is not None and (best is None or seen.config_version > best.config_version):
                best = seen
        if best is not None and best.config:
            self.known_local = {m.host for m in best.config if m.cluster == roster.this_cluster}
            return best
        # No local member has a config. Before anyone initiates, make sure no member elsewhere belongs to a set.
        for member in roster.members:
            if member.cluster != roster.this_cluster and self._in_a_set(member.host):
                return Observed(ready_pods=ready_pods, exists_on=member.host)
        return best or Observed(ready_pods=ready_pods)

    def _observe_host(self, host: str, ready_pods: frozenset[str]) -> Observed | None:
        for auth in (True, False):
            try:
                with self.client(host, auth=auth) as client:
                    return self._observe(client, ready_pods, auth)
            except OperationFailure as exc:
                if exc.code != AUTHENTICATION_FAILED or not auth:
                    log.info("cannot read the replica set from %s: %s", host, _short(exc))
                    return None
            except ConnectionFailure as exc:
                log.info("cannot reach %s: %s", host, _short(exc))
                return None
        return None

    def _in_a_set(self, host: str) -> bool:
        """Whether ``host`` reports a replica-set name (``hello`` needs no authentication)."""
        try:
            with self.client(host, auth=False) as client:
                return bool(client.admin.command("hello").get("setName"))
        except (ConnectionFailure, OperationFailure):
            return False

    def _observe(self, client: MongoClient[dict[str, Any]], ready: frozenset[str], root: bool) -> Observed:
        try:
            config = client.admin.command("replSetGetConfig")["config"]
        except OperationFailure as exc:
            if exc.code == NOT_YET_INITIALIZED:
                return Observed(ready_pods=ready)
            raise
        status = client.admin.command("replSetGetStatus")
        rows = status.get("members", [])
        states = {m["name"]: m.get("stateStr", "") for m in rows}
        primary = next((name for name, state in states.items() if state == "PRIMARY"), "")
        sources = {m["name"]: m.get("syncSourceHost", "") for m in rows}
        head = next((m.get("optimeDate") for m in rows if m["name"] == primary), None)
        lags = {m["name"]: max(0, int((head - m["optimeDate"]).total_seconds()))
                for m in rows if head is not None and m.get("optimeDate") is not None}
        users: frozenset[str] = frozenset()
        if root:
            found = client.admin.command("usersInfo")["users"]
            users = frozenset(u["user"] for u in found if u.get("db", "admin") == "admin")
        return Observed(tuple(_member(m) for m in config["members"]), int(config["version"]), primary, states,
                        ready, users, sources, lags)

    # --- acting

    def act(self, roster: Roster, observed: Observed, action: Action) -> None:
        if isinstance(action, Noop):
            return
        if isinstance(action, Initiate):
            self._initiate(action.member)
        elif isinstance(action, CreateUser):
            self._create_user(observed.primary, action.user)
        elif isinstance(action, StepDown):
            self._step_down(action.host)
        elif isinstance(action, (AddMember, RemoveMember, ChangeVotes)):
            self._reconfig(observed.primary, action)
        else:  # pragma: no cover - every action is handled above
            raise TypeError(action)

    def _initiate(self, member: Member) -> None:
        """replSetInitiate with one member, through the localhost exception or, once users exist, as root."""
        config = {"_id": self.set_name, "members": [_config_member(member)]}
        for auth in (False, True):
            with self.client(member.host, auth=auth) as client:
                try:
                    client.admin.command("replSetInitiate", config)
                    return
                except OperationFailure as exc:
                    if exc.code == ALREADY_INITIALIZED:
                        log.info("replica set %s was already initiated", self.set_name)
                        return
                    if exc.code != UNAUTHORIZED or auth:
                        raise

    def _create_user(self, primary: str, user: str) -> None:
        credentials = self.users.get(user)
        if credentials is None:
            raise Temporary(f"no credentials for user {user}: its Secret is missing", 30)
        with self.client(primary, auth=user != "root") as client:
            try:
                client.admin.command("createUser", credentials.user, pwd=credentials.password, roles=ROLES[user])
            except OperationFailure as exc:
                if exc.code != 51003:  # user already exists
                    raise
        log.info("created user %s", credentials.user)

    def _step_down(self, host: str) -> None:
        with self.client(host) as client, contextlib.suppress(AutoReconnect):  # it hangs up as it steps down
            client.admin.command("replSetStepDown", 60)

    def _reconfig(self, primary: str, action: Action) -> None:
        """One reconfiguration, from the primary's current config; retried while MongoDB asks for it."""
        for attempt in range(self.attempts):
            try:
                with self.client(primary) as client:
                    config = client.admin.command("replSetGetConfig")["config"]
                    current = [_member(m) for m in config["members"]]
                    members = apply(current, action)
                    by_id = {m["_id"]: m for m in config["members"]}
                    config["members"] = [_merge(by_id.get(m.id), m) for m in members]
                    config["version"] = int(config["version"]) + 1
                    client.admin.command("replSetReconfig", config)  # never force
                    return
            except OperationFailure as exc:
                if exc.code not in RETRIED:
                    raise
                log.info("reconfig of %s: %s; retrying", self.set_name, (exc.details or {}).get("codeName", exc.code))
            except AutoReconnect as exc:
                log.info("reconfig of %s: %s; retrying", self.set_name, _short(exc))
            self.sleep(self.backoff * 2**attempt)
        raise Temporary(f"reconfig of {self.set_name} did not go through after {self.attempts} attempts")


def _member(raw: Mapping[str, Any]) -> Member:
    return Member(int(raw["_id"]), str(raw["host"]), int(raw.get("votes", 1)), float(raw.get("priority", 1)),
                  bool(raw.get("arbiterOnly", False)), str((raw.get("tags") or {}).get("cluster", "")))


def _config_member(member: Member) -> dict[str, Any]:
    out: dict[str, Any] = {"_id": member.id, "host": member.host, "votes": member.votes, "priority": member.priority}
    if member.arbiter_only:
        out["arbiterOnly"] = True
    if member.cluster:
        out["tags"] = {"cluster": member.cluster}
    return out


def _merge(existing: Mapping[str, Any] | None, member: Member) -> dict[str, Any]:
    """A config member: fields MongoDB keeps (hidden, secondaryDelaySecs, ...) stay as they were."""
    return {**(dict(existing) if existing and existing.get("host") == member.host else {}), **_config_member(member)}


def _short(exc: PyMongoError) -> str:
    return str(exc).splitlines()[0][:200]
