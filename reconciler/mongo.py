"""The MongoDB adapter: observe the replica set and carry out one action, with pymongo.

Every connection is direct (``directConnection=true``) to one member, over the network (``<VIP>:<nodePort>``),
where MongoDB's localhost exception never applies: the reconciler always logs in as root (SCRAM-SHA-256),
whom the image's entrypoint created from the mounted ``<name>-root`` Secret on every data member's empty data
directory. Arbiters keep no users: they are read with ``hello`` and the set is read from a data member.

Error codes (MongoDB ``error_codes.yml``): 18 AuthenticationFailed (reported, never "not initiated"),
23 AlreadyInitialized (success), 94 NotYetInitialized, 10107 NotWritablePrimary (ends the attempt: observe
again), 109 ConfigurationInProgress and 308 CurrentConfigNotCommittedYet (retried with backoff), 11000
duplicate key (another reconciler's initiation claim). Passwords are never logged: :class:`Credentials`
hides them from ``repr``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from pymongo import MongoClient
from pymongo.errors import AutoReconnect, ConnectionFailure, NotPrimaryError, OperationFailure, PyMongoError

from reconciler.decide import (
    Action,
    AddMember,
    ChangeVotes,
    Claim,
    ClaimRestart,
    CreateUser,
    Initiate,
    Member,
    Noop,
    Observed,
    RecordMembers,
    ReleaseRestart,
    RemoveMember,
    Rollout,
    Roster,
    Row,
    SetDefaultWriteConcern,
    StepDown,
    UpdateUser,
    apply,
)
from reconciler.versions import SetFeatureCompatibilityVersion

log = logging.getLogger("fedrender.reconciler.mongo")

AUTHENTICATION_FAILED = 18
ALREADY_INITIALIZED = 23
NOT_YET_INITIALIZED = 94
NOT_WRITABLE_PRIMARY = 10107
CONFIGURATION_IN_PROGRESS = 109
CONFIG_NOT_COMMITTED = 308
DUPLICATE_KEY = 11000
RETRIED = {CONFIGURATION_IN_PROGRESS, CONFIG_NOT_COMMITTED}
ROLES = {"root": [{"role": "root", "db": "admin"}],
         "clusterAdmin": [{"role": "clusterAdmin", "db": "admin"}],
         "clusterMonitor": [{"role": "clusterMonitor", "db": "admin"}, {"role": "read", "db": "local"}]}
CLAIMS = "fedrender_init"  # local.fedrender_init on each data member: who initiates the set
ROLLOUT_DB, ROLLOUT = "fedrender", "rollout"  # fedrender.rollout, replicated: the restart slot and member rows
RESTART = "restart"  # the _id of the single restart slot
EXCEEDED_TIME_LIMIT = 262  # replSetStepDown: no electable secondary caught up
MAJORITY = {"w": "majority"}


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)


class Temporary(Exception):
    """Try again later (after ``retry_after`` seconds); the status reports it, never as Degraded."""

    def __init__(self, message: str, retry_after: float = 5.0, reason: str = "Retrying") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.reason = reason


class AuthenticationFailed(Exception):
    """Root could not log in (code 18)."""


@dataclass
class MongoAdapter:
    set_name: str
    users: Mapping[str, Credentials]
    cluster: str = ""
    timeout_ms: int = 2000
    attempts: int = 5
    backoff: float = 0.2
    sleep: Callable[[float], None] = time.sleep
    known_local: set[str] = field(default_factory=set)
    """Hosts of this cluster in the last observed config: still reachable after the roster dropped them."""
    root_in_use: Credentials | None = None
    """The root credentials that last logged in: the previous ones while a rotated root Secret is carried out."""

    @contextmanager
    def client(self, host: str, user: Credentials | None = None,
               anonymous: bool = False) -> Iterator[MongoClient[dict[str, Any]]]:
        login = None if anonymous else (user or self.root_in_use or self.users.get("root"))
        options: dict[str, Any] = {"directConnection": True, "serverSelectionTimeoutMS": self.timeout_ms,
                                   "connectTimeoutMS": self.timeout_ms, "socketTimeoutMS": self.timeout_ms * 5}
        if login is not None:
            options.update(username=login.user, password=login.password, authSource="admin",
                           authMechanism="SCRAM-SHA-256")
        client: MongoClient[dict[str, Any]] = MongoClient(f"mongodb://{host}/", **options)
        try:
            yield client
        finally:
            client.close()

    # --- observing

    def observe(self, roster: Roster, ready_pods: frozenset[str]) -> Observed:
        """The newest config any local member knows (as root), or, with none, whether the set exists elsewhere
        and which roster members could not be asked."""
        root = self.users.get("root")
        if root is None:
            return Observed(ready_pods=ready_pods, auth_failed="no root credentials: the root Secret is missing")
        hosts = [m.host for m in roster.local()] + sorted(self.known_local - {m.host for m in roster.local()})
        arbiters = {m.host for m in roster.members if m.arbiter_only}
        best: Observed | None = None
        best_login: Credentials | None = None
        unknown: set[str] = set()
        failed = ""
        seen_set: list[str] = []  # data hosts an arbiter here listed: where to read the set from
        for host in hosts:  # every local member: a fresh one knows no config, an older one does
            if host not in ready_pods:
                unknown.add(host)
                continue
            try:
                if host in arbiters:
                    hello = self._hello(host)
                    if hello.get("setName"):
                        seen_set += [hello.get("primary", ""), *hello.get("hosts", [])]
                    continue
                seen, login = self._observe_host(host, ready_pods)
            except AuthenticationFailed as exc:
                failed = f"{host}: {exc}"
                continue
            except (ConnectionFailure, OperationFailure) as exc:
                log.info("cannot read the replica set from %s: %s", host, _short(exc))
                unknown.add(host)
                continue
            if seen.config_version > (best.config_version if best else -1) or (  # the primary's view first
                    best is not None and seen.config_version == best.config_version and host == seen.primary):
                best, best_login = seen, login
        if (best is None or not best.config) and seen_set:  # an arbiter's cluster reads the set from a data member
            best, best_login = self._observe_through(seen_set, ready_pods) or (best, best_login)
        if best is not None and best.config:
            self.known_local = {m.host for m in best.config if m.cluster == roster.this_cluster}
            self.root_in_use = best_login  # the root that logs in to the set (a fresh member may know another)
            return self._with_binaries(best, roster)
        if failed:
            return Observed(ready_pods=ready_pods, auth_failed=failed, unknown=frozenset(unknown))
        # No member here has a config. Ask every other roster member: the set may run elsewhere (then read it
        # there: this cluster may still run the primary under a host the roster dropped), or not exist yet.
        for member in roster.members:
            if member.cluster == roster.this_cluster:
                continue
            try:
                hello = self._hello(member.host)
            except (ConnectionFailure, OperationFailure):
                unknown.add(member.host)
                continue
            if hello.get("setName"):
                found = self._observe_through([hello.get("primary", ""), *hello.get("hosts", [])], ready_pods)
                if found is None:
                    return Observed(ready_pods=ready_pods, exists_on=member.host)
                remote, self.root_in_use = found
                self.known_local = {m.host for m in remote.config if m.cluster == roster.this_cluster}
                return self._with_binaries(remote, roster)
        return Observed(ready_pods=ready_pods, unknown=frozenset(unknown))

    def _with_binaries(self, seen: Observed, roster: Roster) -> Observed:
        """``seen`` with the binary version (``buildInfo``, which needs no login) of each local member, and of every
        member when the primary is local: the FCV decision needs all of them, and asks each member itself
        rather than trust another cluster's report. A member that does not answer stays unknown."""
        local = {m.host for m in roster.local()} | self.known_local
        primary_here = seen.primary in local
        binaries = {}
        for member in seen.config:
            if member.host not in local and not primary_here:
                continue
            try:
                with self.client(member.host, anonymous=True) as client:
                    binaries[member.host] = str(client.admin.command("buildInfo").get("version", ""))
            except (ConnectionFailure, OperationFailure) as exc:
                log.info("cannot read the binary version of %s: %s", member.host, _short(exc))
        return replace(seen, binaries=binaries)

    def _hello(self, host: str) -> dict[str, Any]:
        with self.client(host, anonymous=True) as client:
            return dict(client.admin.command("hello"))

    def _observe_through(self, hosts: list[str], ready: frozenset[str]) -> tuple[Observed, Credentials] | None:
        for host in dict.fromkeys(h for h in hosts if h):
            try:
                seen, login = self._observe_host(host, ready)
            except (AuthenticationFailed, ConnectionFailure, OperationFailure) as exc:
                log.info("cannot read the replica set through %s: %s", host, str(exc)[:200])
                continue
            if seen.config:
                return seen, login
        return None

    def _observe_host(self, host: str, ready: frozenset[str]) -> tuple[Observed, Credentials]:
        """Log in as root (the current Secret, else the root that worked before a rotation) and read the set;
        returns what was seen and the root that logged in."""
        root = self.users["root"]
        candidates = [root] + ([self.root_in_use] if self.root_in_use not in (None, root) else [])
        for login in candidates:
            if login is None:  # pragma: no cover - excluded above; narrows the type
                continue
            try:
                with self.client(host, user=login) as client:
                    seen = self._observe(client, host, ready)
            except OperationFailure as exc:
                if exc.code != AUTHENTICATION_FAILED:
                    raise
                continue
            if login != root:
                seen = replace(seen, stale_users=seen.stale_users | {"root"})
            return seen, login
        raise AuthenticationFailed(f"root ({root.user}) cannot log in with the password of its Secret (code 18)")

    def _observe(self, client: MongoClient[dict[str, Any]], host: str, ready: frozenset[str]) -> Observed:
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
        found = {u["user"] for u in client.admin.command("usersInfo")["users"] if u.get("db", "admin") == "admin"}
        users = frozenset(role for role, c in self.users.items() if c.user in found)
        w = _global_write_concern(client.admin.command("getDefaultRWConcern"))
        stale = frozenset(role for role in users if role != "root" and host == primary  # users are checked on
                          and not self._logs_in(host, self.users[role]))         # the primary, where they change
        # The FCV document replicates: any data member answers (manual, "Get FeatureCompatibilityVersion"); the
        # primary's is the newest, and the one the FCV decision and the status use.
        fcv = dict(client.admin.command("getParameter", 1, featureCompatibilityVersion=1)
                   .get("featureCompatibilityVersion") or {})
        return Observed(tuple(_member(m) for m in config["members"]), int(config["version"]), primary, states,
                        ready, users, sources, lags, default_write_concern=w, stale_users=stale,
                        fcv=str(fcv.get("version", "")), fcv_target=str(fcv.get("targetVersion", "")))

    def _logs_in(self, host: str, credentials: Credentials) -> bool:
        """Whether ``credentials`` log in: a rotated Secret's new password does not until updateUser."""
        try:
            with self.client(host, user=credentials) as client:
                client.admin.command("ping")
        except OperationFailure as exc:
            return exc.code != AUTHENTICATION_FAILED
        return True

    def read_rollout(self, observed: Observed) -> Rollout:
        """The ``fedrender.rollout`` documents, read on the primary (the members' binaries are already in
        ``observed.binaries``). ``read`` is False when the primary could not be read: then no rolling-restart step
        is taken."""
        try:
            with self.client(observed.primary) as client:
                docs = client[ROLLOUT_DB].command("find", ROLLOUT, filter={})["cursor"]["firstBatch"]
        except (ConnectionFailure, OperationFailure) as exc:
            log.info("cannot read %s.%s on %s: %s", ROLLOUT_DB, ROLLOUT, observed.primary, _short(exc))
            return Rollout()
        claim = next((Claim(str(d.get("host", "")), str(d.get("cluster", "")), str(d.get("toRevision", "")))
                      for d in docs if d["_id"] == RESTART), None)
        rows = {str(d["_id"]): Row(str(d["_id"]), str(d.get("cluster", "")), str(d.get("revision", "")),
                                   bool(d.get("updated", False)), str(d.get("templateHash", "")),
                                   str(d.get("version", "")))
                for d in docs if d["_id"] != RESTART}
        return Rollout(read=True, claim=claim, rows=rows)

    # --- acting

    def act(self, roster: Roster, observed: Observed, action: Action) -> None:
        """Carry out one action. NotWritablePrimary (the primary changed since observing) ends the attempt."""
        try:
            self._act(roster, observed, action)
        except NotPrimaryError:  # pymongo's class for 10107 (and other "not primary" replies)
            raise Temporary(f"{observed.primary} is no longer primary; observing again", 0.0,
                            "NotWritablePrimary") from None
        except OperationFailure as exc:
            if exc.code == NOT_WRITABLE_PRIMARY:
                raise Temporary(f"{observed.primary} is no longer primary; observing again", 0.0,
                                "NotWritablePrimary") from None
            if exc.code == AUTHENTICATION_FAILED:
                raise Temporary("root cannot log in (code 18)", 30.0, "AuthenticationFailed") from None
            if exc.code == EXCEEDED_TIME_LIMIT and isinstance(action, StepDown):
                raise Temporary(f"{action.host} did not step down: no electable secondary caught up (262)", 5.0,
                                "StepDownRefused") from None
            raise
        except ConnectionFailure as exc:  # a hang-up, a restart: what happened is observed next time
            raise Temporary(f"{type(action).__name__}: {_short(exc)}; observing again", 1.0) from None

    def _act(self, roster: Roster, observed: Observed, action: Action) -> None:
        if isinstance(action, Noop):
            return
        if isinstance(action, Initiate):
            self._initiate(roster, action.member)
        elif isinstance(action, SetDefaultWriteConcern):
            with self.client(observed.primary) as client:
                client.admin.command("setDefaultRWConcern", 1, defaultWriteConcern={"w": action.w},
                                     writeConcern={"w": "majority"})
        elif isinstance(action, (CreateUser, UpdateUser)):
            self._user(observed.primary, action)
        elif isinstance(action, StepDown):
            with self.client(action.host) as client:
                try:
                    client.admin.command("replSetStepDown", 60)
                except NotPrimaryError:
                    raise  # it was not the primary any more: ends the attempt
                except AutoReconnect:
                    pass  # a primary hangs up as it steps down
        elif isinstance(action, (AddMember, RemoveMember, ChangeVotes)):
            self._reconfig(observed.primary, action)
        elif isinstance(action, SetFeatureCompatibilityVersion):
            # confirm only to a 7.0+ primary: 6.0 refuses the unknown field (40415), 7.0+ requires it (7369100)
            extra: dict[str, Any] = {"confirm": True} if action.confirm else {}
            with self.client(observed.primary) as client:
                client.admin.command("setFeatureCompatibilityVersion", action.version, **extra,
                                     writeConcern={"w": "majority"})
            log.info("set featureCompatibilityVersion %s on %s", action.version, observed.primary)
        elif isinstance(action, (RecordMembers, ClaimRestart, ReleaseRestart)):
            self._rollout(observed.primary, action)
        else:  # pragma: no cover - every action is handled above
            raise TypeError(action)

    def _initiate(self, roster: Roster, member: Member) -> None:
        """Claim the initiation on every data member of the roster, in host order, then replSetInitiate with one
        member. A claim is a document in the member's ``local`` database (writable before a set exists, never
        replicated); two reconcilers with rosters that share a member cannot both hold all their claims, so at
        most one initiates."""
        for host in sorted(m.host for m in roster.members if not m.arbiter_only):
            self._claim(host)
        for other in roster.members:
            if other.host != member.host and self._hello(other.host).get("setName"):
                raise Temporary(f"{roster.name} already exists ({other.host} is a member): not initiating", 0.0)
        config = {"_id": self.set_name, "members": [_config_member(member)]}
        with self.client(member.host) as client:
            try:
                client.admin.command("replSetInitiate", config)
            except OperationFailure as exc:
                if exc.code != ALREADY_INITIALIZED:
                    raise
                log.info("replica set %s was already initiated", self.set_name)

    def _claim(self, host: str) -> None:
        with self.client(host) as client:
            claims = client.local
            reply = claims.command("insert", CLAIMS, documents=[{"_id": self.set_name, "cluster": self.cluster}])
            if not reply.get("writeErrors"):
                return
            if reply["writeErrors"][0].get("code") != DUPLICATE_KEY:
                raise Temporary(f"cannot claim the initiation on {host}: {reply['writeErrors'][0].get('errmsg')}")
            held = claims.command("find", CLAIMS, filter={"_id": self.set_name})["cursor"]["firstBatch"]
            owner = held[0].get("cluster", "") if held else ""
            if owner != self.cluster:
                raise Temporary(f"cluster {owner} claimed the initiation of {self.set_name} on {host}: "
                                "not initiating", 30.0, "InitiatedElsewhere")

    def _rollout(self, primary: str, action: RecordMembers | ClaimRestart | ReleaseRestart) -> None:
        """Write ``fedrender.rollout`` on the primary with ``w: "majority"`` (a write the next primary keeps).
        The restart slot is taken by insert: 11000 (duplicate key) means another cluster holds it."""
        with self.client(primary) as client:
            db = client[ROLLOUT_DB]
            if isinstance(action, RecordMembers):
                updates = [{"q": {"_id": r.host}, "upsert": True,
                            "u": {"_id": r.host, "cluster": r.cluster, "revision": r.revision, "updated": r.updated,
                                  "templateHash": r.template_hash, "version": r.version}}
                           for r in action.rows]
                reply = db.command("update", ROLLOUT, updates=updates, writeConcern=MAJORITY)
            elif isinstance(action, ClaimRestart):
                claim = action.claim
                reply = db.command("insert", ROLLOUT, writeConcern=MAJORITY, documents=[
                    {"_id": RESTART, "host": claim.host, "cluster": claim.cluster, "toRevision": claim.to_revision,
                     "claimedAt": dt.datetime.now(dt.UTC)}])
            else:
                claim = action.claim
                reply = db.command("delete", ROLLOUT, writeConcern=MAJORITY, deletes=[
                    {"q": {"_id": RESTART, "host": claim.host, "cluster": claim.cluster}, "limit": 1}])
        errors = reply.get("writeErrors") or []
        if errors and errors[0].get("code") == DUPLICATE_KEY:
            raise Temporary("another cluster took the restart slot first; observing again", 0.0, "RestartSlotHeld")
        if errors or reply.get("writeConcernError"):
            problem = (errors[0] if errors else reply["writeConcernError"]).get("errmsg", "")
            raise Temporary(f"{type(action).__name__}: {problem}", 5.0, "RolloutWriteFailed")

    def _user(self, primary: str, action: CreateUser | UpdateUser) -> None:
        credentials = self.users.get(action.user)
        if credentials is None:
            raise Temporary(f"no credentials for user {action.user}: its Secret is missing", 30, "SecretMissing")
        with self.client(primary) as client:
            if isinstance(action, UpdateUser):
                client.admin.command("updateUser", credentials.user, pwd=credentials.password)
                if action.user == "root":
                    self.root_in_use = credentials
                log.info("updated the password of user %s", credentials.user)
                return
            try:
                client.admin.command("createUser", credentials.user, pwd=credentials.password,
                                     roles=ROLES[action.user])
            except OperationFailure as exc:
                if exc.code != 51003:  # it exists: a rotated password is an UpdateUser once observed
                    raise
        log.info("created user %s", credentials.user)

    def _reconfig(self, primary: str, action: AddMember | RemoveMember | ChangeVotes) -> None:
        """One reconfiguration, from the primary's current config; retried while MongoDB asks for it (109, 308).
        A reconfig that already went through (the primary hung up after applying it) is not sent again."""
        for attempt in range(self.attempts):
            with self.client(primary) as client:
                config = client.admin.command("replSetGetConfig")["config"]
                current = [_member(m) for m in config["members"]]
                if isinstance(action, AddMember) and any(m.id == action.member.id for m in current):
                    return  # already added (a reply lost on the way): never a duplicate _id
                members = apply(current, action)
                if [_key(m) for m in members] == sorted(_key(m) for m in current):
                    return  # already applied
                by_id = {m["_id"]: m for m in config["members"]}
                config["members"] = [_merge(by_id.get(m.id), m) for m in members]
                config["version"] = int(config["version"]) + 1
                try:
                    client.admin.command("replSetReconfig", config)  # never force
                    return
                except OperationFailure as exc:
                    if exc.code not in RETRIED:
                        raise
                    log.info("reconfig of %s: %s; retrying", self.set_name,
                             (exc.details or {}).get("codeName", exc.code))
            self.sleep(self.backoff * 2**attempt)
        raise Temporary(f"reconfig of {self.set_name} did not go through after {self.attempts} attempts "
                        "(the previous config is not committed yet)", reason="Reconfiguring")


def _member(raw: Mapping[str, Any]) -> Member:
    tags = {str(k): str(v) for k, v in (raw.get("tags") or {}).items()}
    return Member(int(raw["_id"]), str(raw["host"]), int(raw.get("votes", 1)), float(raw.get("priority", 1)),
                  bool(raw.get("arbiterOnly", False)), tags.get("cluster", ""), tuple(sorted(tags.items())))


def _key(member: Member) -> tuple[int, str, int, float, bool, list[tuple[str, str]]]:
    return (member.id, member.host, member.votes, member.priority, member.arbiter_only,
            sorted(member.config_tags().items()))


def _config_member(member: Member) -> dict[str, Any]:
    out: dict[str, Any] = {"_id": member.id, "host": member.host, "votes": member.votes, "priority": member.priority}
    if member.arbiter_only:
        out["arbiterOnly"] = True
    if member.config_tags():
        out["tags"] = member.config_tags()
    return out


def _merge(existing: Mapping[str, Any] | None, member: Member) -> dict[str, Any]:
    """A config member: fields MongoDB keeps (hidden, secondaryDelaySecs, ...) stay as they were."""
    return {**(dict(existing) if existing and existing.get("host") == member.host else {}), **_config_member(member)}


def _short(exc: PyMongoError) -> str:
    return str(exc).splitlines()[0][:200]


def _global_write_concern(reply: dict[str, Any]) -> str:
    """The ``w`` of the cluster-wide default write concern that setDefaultRWConcern set, '' while there is none.

    MongoDB 5.0+ always reports a default with ``defaultWriteConcernSource`` ("implicit" until one is set,
    "global" after); 4.4 has no source field and reports ``defaultWriteConcern`` only once one was set
    (manual: getDefaultRWConcern, "Output" of each release)."""
    concern = reply.get("defaultWriteConcern")
    if not isinstance(concern, dict):
        return ""
    source = reply.get("defaultWriteConcernSource", "global")
    return str(concern.get("w", "")) if source == "global" else ""
