"""A MongoDB replica set simulated over the wire with MockupDB, at least as strict as a real mongod.

One MockupDB server per member host (a mongod started with ``--replSet --auth --keyFile``); all share one
model, guarded by a lock (several reconcilers may talk to it at once). What it enforces, after the MongoDB
manual and server (``replSetInitiate``, ``replSetReconfig``, ``setDefaultRWConcern``, jstests
``reconfig_fails_with_implicit_default_write_concern_change``):

* Authentication is real SCRAM-SHA-256. The localhost exception is never granted over the wire: every wire
  client is remote (the reconciler reaches members as ``<VIP>:<nodePort>``), so every command but the
  handshake needs an authenticated user (13 Unauthorized).
* The first user comes the way the official image's ``docker-entrypoint.sh`` makes it: on a data member whose
  data directory is empty, from MONGO_INITDB_ROOT_USERNAME(_FILE) and MONGO_INITDB_ROOT_PASSWORD(_FILE),
  both or neither, through a temporary mongod bound to 127.0.0.1 without ``--replSet``/``--auth``/``--keyFile``
  (:func:`entrypoint_root`; modelled in-process because it runs on the member's own host).
* Users live in each node's admin database until it joins the set; initial sync replaces them with the set's.
  Arbiters keep no users: authenticating against one fails (18).
* replSetInitiate once (23 after; a second set is recorded as a violation), reconfig only on the primary
  (10107), the version must follow, one voting change per reconfig (103), at most 50 members and 7 voters,
  arbiters vote with priority 0 (93), votes 0 or 1 and priority 0 without a vote (93, initiate too), never
  ``force``, 308 while the last config is not committed
  (``commit_lag`` replies in a row), and, while no cluster-wide default write concern is set, a reconfig
  that changes the implicit default write concern is refused (103, as MongoDB 5.0+).
* createUser, updateUser, setDefaultRWConcern and replSetStepDown only on the primary (10107).
* replSetStepDown (src/mongo/db/repl/replset_commands.cpp ``CmdReplSetStepDown``, jstests/replsets/stepdown*.js;
  ``replication_coordinator_impl.cpp`` "No electable secondaries caught up"): ``stepDownSecs`` (0 means 60) must be
  longer than ``secondaryCatchUpPeriodSecs`` (default 10), else 2 BadValue (the server refuses only shorter;
  equal is refused here too); 262 ExceededTimeLimit unless another member is electable and caught up (lag 0);
  ``force: true`` is a recorded violation (and refused); the old primary is not electable for ``stepDownSecs``
  of the simulated clock. It replies ``{ok: 1}`` (4.2+ no longer closes every connection on step-down;
  ``step_down_hangs_up`` restores the old behaviour).
* Rolling restarts (:meth:`Simulator.restart`, a pod deleted and recreated): the member is down, then STARTUP2,
  then SECONDARY, with a new ``buildInfo`` version. Recorded violations: restarting the primary without a step-down,
  a second member down or restarting at once, a restart while any member lags more than ``max_lag`` seconds or is
  not healthy.
* ``fedrender.rollout`` (replicated): insert, find, update and delete only on the primary (10107 elsewhere);
  11000 on a duplicate ``_id``; a write without ``writeConcern: {w: "majority"}`` is a recorded violation.
* Elections: a primary taken down is replaced by an electable member when a majority of voters is up.
* Writes to the ``local`` database are accepted on any member, initiated or not (as mongod does); the
  reconciler's initiation claims use them.
* Versions (MongoDB manual, setFeatureCompatibilityVersion and "Upgrade a Self-Managed Replica Set to 8.0";
  mongodb/mongo ``src/mongo/db/commands/set_feature_compatibility_version_command.cpp``): each host runs its own
  binary (``buildInfo``, hello's ``maxWireVersion``); ``getParameter featureCompatibilityVersion`` gives the
  set's FCV (``version``, ``targetVersion`` while a change is half-done). ``setFeatureCompatibilityVersion`` runs
  on the primary only (10107), takes the primary binary's release or the one before (2 BadValue otherwise), needs
  ``confirm: true`` on a 7.0+ binary (7369100) and refuses ``confirm`` as an unknown field on an older one
  (40415); an upgrade while any member's binary is older than the target is refused and recorded (the FCV
  document would replicate to a binary that cannot read it). A member restarted on a binary
  (:meth:`Simulator.start_binary`) that is not of the FCV's release or the next stays down, recorded
  ("UPGRADE PROBLEM: Found an invalid featureCompatibilityVersion document").
* New data members report STARTUP2 for ``initial_sync_reads`` status reads before SECONDARY. A host can be
  taken down (it hangs up on every request) or hiccup on reconfigs (a restart).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bson import Binary
from mockupdb import MockupDB

from reconciler.decide import Member, implicit_write_concern_majority

ITERATIONS = 4096
NOW = dt.datetime(2026, 11, 22, 12, 0, 0)
OPEN = {"hello", "ismaster", "ping", "saslstart", "saslcontinue", "endsessions", "buildinfo"}
PRIMARY_ONLY = {"createuser", "updateuser", "setdefaultrwconcern", "replsetreconfig", "replsetstepdown",
                "setfeaturecompatibilityversion"}
LAST_LTS = {(5, 0): (4, 4), (6, 0): (5, 0), (7, 0): (6, 0), (8, 0): (7, 0)}
"""The release before each (``GenericFCV::kLastLTS``): the lowest FCV a binary accepts, and the FCV a binary of
the next release starts on."""
ROLLOUT = ("fedrender", "rollout")


@dataclass
class User:
    salt: bytes
    stored_key: bytes
    server_key: bytes

    @classmethod
    def make(cls, password: str) -> User:
        salt = os.urandom(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        return cls(salt, hashlib.sha256(client_key).digest(), hmac.digest(salted, b"Server Key", "sha256"))


def entrypoint_root(username: str | None, password: str | None) -> dict[str, User]:
    """The users the official image's entrypoint leaves in an empty data directory: root from
    MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD (or their _FILE variants), both or neither."""
    if bool(username) != bool(password):
        raise ValueError("error: missing 'MONGO_INITDB_ROOT_USERNAME' or 'MONGO_INITDB_ROOT_PASSWORD': "
                         "both must be specified for a user to be created")
    return {username: User.make(password)} if username and password else {}


@dataclass
class Node:
    arbiter: bool = False
    users: dict[str, User] = field(default_factory=dict)
    local: dict[str, dict[str, Any]] = field(default_factory=dict)  # local.fedrender_init by _id


WIRE_VERSIONS = {(4, 4): 9, (5, 0): 13, (6, 0): 17, (7, 0): 21, (8, 0): 25}
"""hello's maxWireVersion per server release (pymongo 4.x talks to 4.4, wire version 9, and later)."""


@dataclass
class ReplicaSet:
    name: str
    config: dict[str, Any] | None = None
    primary: str = ""
    users: dict[str, User] = field(default_factory=dict)  # the set's admin users
    default_write_concern: dict[str, Any] | None = None  # setDefaultRWConcern's, None while implicit
    server_version: tuple[int, int] = (7, 0)  # 4.4 has setDefaultRWConcern but no implicit default (5.0+)
    nodes: dict[str, Node] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    hiccups: dict[str, int] = field(default_factory=dict)  # host -> reconfigs to hang up on (a restart)
    lag: dict[str, int] = field(default_factory=dict)  # host -> seconds behind the primary
    syncing: dict[str, float] = field(default_factory=dict)  # host -> status reads (or seconds) left in STARTUP2
    initial_sync_reads: int = 1
    clock: Callable[[], float] | None = None  # when set, initial sync lasts initial_sync_seconds of this clock
    initial_sync_seconds: float = 0.0
    uncommitted: int = 0
    commit_lag: int = 0  # after each reconfig, this many reconfigs get 308 first
    binaries: dict[str, str] = field(default_factory=dict)  # host -> buildInfo version ("" : server_version.0)
    fcv: str = ""  # the set's featureCompatibilityVersion ("": the release of server_version)
    fcv_target: str = ""  # non-empty while a change is half-done (getParameter's targetVersion)
    fcv_changes: list[tuple[str, bool]] = field(default_factory=list)  # (version, confirm) of every accepted one
    lost_replies: int = 0  # this many applied reconfigs lose their reply: the primary hangs up after applying
    restarting: dict[str, float] = field(default_factory=dict)  # host -> status reads (or clock time) still down
    restart_reads: int = 2
    restart_seconds: float = 5.0
    stuck: set[str] = field(default_factory=set)  # hosts that never come back from a restart
    restarts: list[str] = field(default_factory=list)  # every restarted host, in order
    frozen: dict[str, float] = field(default_factory=dict)  # host -> clock time it may be elected again
    max_lag: int = 10  # a restart while a member is further behind is a violation
    step_down_hangs_up: bool = False
    step_downs: list[str] = field(default_factory=list)
    rollout: dict[str, dict[str, Any]] = field(default_factory=dict)  # fedrender.rollout by _id (replicated)
    violations: list[str] = field(default_factory=list)
    reconfigs: list[dict[str, Any]] = field(default_factory=list)
    initiates: list[str] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)  # (command, code) of every error reply
    authenticated: dict[tuple[str, int], str] = field(default_factory=dict)
    conversations: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def voters(self, config: dict[str, Any]) -> set[int]:
        return {m["_id"] for m in config["members"] if m.get("votes", 1) > 0}

    def binary(self, host: str) -> str:
        return self.binaries.get(host) or f"{self.server_version[0]}.{self.server_version[1]}.0"

    def release(self, host: str) -> tuple[int, int]:
        major, minor = self.binary(host).split(".")[:2]
        return int(major), int(minor)

    def feature_compatibility(self) -> tuple[int, int]:
        major, minor = (self.fcv or f"{self.server_version[0]}.{self.server_version[1]}").split(".")
        return int(major), int(minor)


def member_problem(member: dict[str, Any]) -> str:
    """Why mongod refuses a member config (src/mongo/db/repl/member_config.cpp and member_config.idl; MongoDB
    manual, "Adjust Priority for a Self-Managed Replica Set Member"), or "". replSetInitiate and replSetReconfig
    answer 93 InvalidReplicaSetConfig (jstests/replsets/zero_vote_arbiter.js)."""
    votes = member.get("votes", 1)
    if votes not in (0, 1):
        return f"BSON field 'votes' value must be >= 0 and <= 1, actual value '{votes}'"
    if member.get("arbiterOnly") and votes != 1:
        return "Arbiter must vote (cannot have 0 votes)"
    if member.get("priority", 0 if member.get("arbiterOnly") else 1) != 0 and votes == 0:
        return "priority must be 0 when non-voting (votes:0)"
    return ""


def _members(config: dict[str, Any]) -> list[Member]:
    return [Member(int(m["_id"]), m["host"], int(m.get("votes", 1)), float(m.get("priority", 1)),
                   bool(m.get("arbiterOnly", False))) for m in config["members"]]


class Simulator:
    """Start one server per host with ``add_host``; ``hosts`` are 127.0.0.1:<port>."""

    def __init__(self, name: str = "db") -> None:
        self.rs = ReplicaSet(name)
        self.servers: dict[str, MockupDB] = {}
        self.lock = threading.RLock()

    def add_host(self, root: tuple[str, str] | None = ("root", "root-pw-0"), arbiter: bool = False) -> str:
        """A new member's mongod on an empty data directory. Data members get root from the entrypoint
        (``root`` = the mounted Secret's username and password); arbiters get no Secret and no user."""
        server = MockupDB(auto_ismaster=False)
        port = server.run()
        host = f"127.0.0.1:{port}"
        with self.lock:
            self.servers[host] = server
            self.rs.nodes[host] = Node(arbiter, {} if arbiter or root is None else entrypoint_root(*root))
        server.autoresponds(lambda request, host=host: self._handle(host, request))
        return host

    def stop(self) -> None:
        """Stop every server at once (each takes a poll interval to notice)."""
        stopping = [threading.Thread(target=server.stop) for server in self.servers.values()]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()

    # --- events a test causes

    def take_down(self, host: str) -> None:
        with self.lock:
            self.rs.down.add(host)
            if host == self.rs.primary:
                self.rs.primary = ""
                self.elect()

    def start_binary(self, host: str, version: str) -> bool:
        """The member's pod restarts on ``version`` (its image changed). mongod starts only on data whose FCV is
        its own release or the one before (an arbiter keeps no data, hence no FCV document); otherwise it exits
        ("UPGRADE PROBLEM: Found an invalid featureCompatibilityVersion document"), the host stays down and the
        violation is recorded. Whether it started."""
        major, minor = (int(x) for x in version.split(".")[:2])
        with self.lock:
            fcv = self.rs.feature_compatibility()
            if not self.rs.nodes[host].arbiter and fcv not in ((major, minor), LAST_LTS.get((major, minor))):
                self.rs.violations.append(f"{major}.{minor} binary cannot start on FCV {fcv[0]}.{fcv[1]} data "
                                          f"({host})")
                self.take_down(host)
                return False
            self.rs.binaries[host] = version
            self.rs.down.discard(host)
            return True

    def pod_removed(self, host: str) -> None:
        """The member's pod is deleted (a StatefulSet shrank): a violation while the configuration still lists it
        (a scale-down must take its vote and remove it first), then the host is down."""
        with self.lock:
            config = self.rs.config or {"members": []}
            if any(m["host"] == host for m in config["members"]):
                self.rs.violations.append(f"the pod of {host} was removed while the configuration lists it")
        self.take_down(host)

    def restart(self, host: str, version: str = "") -> None:
        """The member's pod was deleted and recreated (a rolling restart): its mongod goes down, comes back
        STARTUP2 after ``restart_reads`` status reads (or ``restart_seconds`` of the clock), then SECONDARY,
        with ``buildInfo`` reporting ``version``. Restarting the primary (no step-down first), a second member
        while one is down or restarting, or any member while one lags or is not healthy is a violation."""
        with self.lock:
            self.rs.restarts.append(host)
            if host == self.rs.primary:
                self.rs.violations.append(f"restarted the primary {host} without stepping it down first")
            config = self.rs.config or {"members": []}
            for m in config["members"]:
                other = m["host"]
                if other in self.rs.down and other != host:
                    self.rs.violations.append(f"restarted {host} while {other} is down: two members down at once")
                elif other in self.rs.syncing:
                    self.rs.violations.append(f"restarted {host} while {other} is not healthy (STARTUP2)")
                elif not m.get("arbiterOnly") and self.rs.lag.get(other, 0) > self.rs.max_lag:
                    self.rs.violations.append(f"restarted {host} while {other} is {self.rs.lag[other]} s behind")
            if version:  # its image changed: the binary starts only on data of its FCV (see start_binary)
                major, minor = (int(x) for x in version.split(".")[:2])
                fcv = self.rs.feature_compatibility()
                if not self.rs.nodes[host].arbiter and fcv not in ((major, minor), LAST_LTS.get((major, minor))):
                    self.rs.violations.append(f"{major}.{minor} binary cannot start on FCV {fcv[0]}.{fcv[1]} data "
                                              f"({host})")
                    self.rs.stuck.add(host)
                self.rs.binaries[host] = version
            self.rs.restarting[host] = (self.rs.clock() + self.rs.restart_seconds if self.rs.clock
                                        else self.rs.restart_reads)
        self.take_down(host)

    def _tick_restarts(self) -> None:
        """Restarted members whose time is up come back in STARTUP2 (then SECONDARY, as a new member does)."""
        for host in list(self.rs.restarting):
            if host in self.rs.stuck:
                continue
            if self._countdown(self.rs.restarting, host):
                self.rs.down.discard(host)
                if not self.rs.nodes[host].arbiter:
                    self.rs.syncing[host] = (self.rs.clock() + self.rs.initial_sync_seconds if self.rs.clock
                                             else self.rs.initial_sync_reads)
                if not self.rs.primary:
                    self.elect()

    def _countdown(self, table: dict[str, float], host: str) -> bool:
        """Whether ``host``'s entry in ``table`` ran out (each call counts one read down, or the clock runs);
        an entry that ran out is removed."""
        left = table[host]
        if self.rs.clock is not None:
            done = self.rs.clock() >= left
        else:
            table[host] = left - 1
            done = left <= 0
        if done:
            del table[host]
        return done

    def _now(self) -> float:
        """The simulated clock; without one time stands still (a frozen member stays frozen)."""
        return self.rs.clock() if self.rs.clock is not None else 0.0

    def elect(self) -> str:
        """Elect the electable, reachable member with the highest priority when a majority of voters is up."""
        config = self.rs.config
        if config is None:
            return ""
        up_votes = sum(m.get("votes", 1) for m in config["members"] if m["host"] not in self.rs.down)
        if up_votes * 2 <= len(self.rs.voters(config)):
            self.rs.primary = ""
            return ""
        electable = [m for m in config["members"] if m["host"] not in self.rs.down and m.get("votes", 1) > 0
                     and m.get("priority", 1) > 0 and not m.get("arbiterOnly") and not self._syncing(m["host"])
                     and self.rs.frozen.get(m["host"], float("-inf")) <= self._now()]
        if electable:
            self.rs.primary = max(electable, key=lambda m: (m.get("priority", 1), -m["_id"]))["host"]
        return self.rs.primary

    # --- request handling

    def _handle(self, host: str, request: Any) -> bool:
        with self.lock:
            if host in self.rs.down:
                request.hangup()
                return True
            name = request.command_name.lower()
            if self.rs.hiccups.get(host, 0) > 0 and name == "replsetreconfig":
                self.rs.hiccups[host] -= 1
                request.hangup()
                return True
            handler = getattr(self, f"_cmd_{name}", None)
            conn = (host, request.client_port)
            if handler is None:
                reply: dict[str, Any] | None = self._error(59, "CommandNotFound", f"no such command {name}")
            elif name not in OPEN and conn not in self.rs.authenticated:
                # No localhost exception over the wire: every command but the handshake needs a user.
                reply = self._error(13, "Unauthorized", f"command {request.command_name} requires authentication")
            elif name in PRIMARY_ONLY and host != self.rs.primary:
                reply = self._error(10107, "NotWritablePrimary", f"{request.command_name} must run on the primary")
            else:
                reply = handler(host, request, conn)
            if reply is None:
                return True
            if not reply.get("ok"):
                self.rs.refused.append((name, int(reply["code"])))
            return request.replies(reply)  # type: ignore[no-any-return]

    @staticmethod
    def _error(code: int, name: str, message: str) -> dict[str, Any]:
        return {"ok": 0, "code": code, "codeName": name, "errmsg": message}

    def _in_config(self, host: str) -> bool:
        return self.rs.config is not None and any(m["host"] == host for m in self.rs.config["members"])

    def _users(self, host: str) -> dict[str, User]:
        """The admin users a host authenticates against: the set's once it joined (initial sync replaced its
        own), none on an arbiter, else what the entrypoint left."""
        node = self.rs.nodes[host]
        if node.arbiter:
            return {}
        return self.rs.users if self._in_config(host) else node.users

    def _cmd_hello(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        config = self.rs.config
        primary = host == self.rs.primary
        reply: dict[str, Any] = {"ok": 1, "isWritablePrimary": primary, "ismaster": primary,
                                 "maxWireVersion": WIRE_VERSIONS[self.rs.release(host)], "minWireVersion": 0,
                                 "me": host}
        if config is not None and self._in_config(host):
            arbiter = self.rs.nodes[host].arbiter
            reply.update(setName=self.rs.name, secondary=not primary and not arbiter, arbiterOnly=arbiter,
                         hosts=[m["host"] for m in config["members"] if not m.get("arbiterOnly")],
                         arbiters=[m["host"] for m in config["members"] if m.get("arbiterOnly")],
                         setVersion=config["version"], primary=self.rs.primary)
        return reply

    _cmd_ismaster = _cmd_hello

    def _cmd_ping(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        return {"ok": 1}

    _cmd_endsessions = _cmd_ping

    def _cmd_saslstart(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        doc = request.doc
        if doc.get("mechanism") != "SCRAM-SHA-256":
            return self._error(2, "BadValue", "simulator only speaks SCRAM-SHA-256")
        first = bytes(doc["payload"]).decode()
        bare = first.split(",", 2)[2]
        fields = dict(part.split("=", 1) for part in bare.split(","))
        user = self._users(host).get(fields["n"])
        if user is None:
            return self._error(18, "AuthenticationFailed", "Authentication failed.")
        nonce = fields["r"] + base64.b64encode(os.urandom(18)).decode()
        server_first = f"r={nonce},s={base64.b64encode(user.salt).decode()},i={ITERATIONS}"
        self.rs.conversations[conn] = {"user": user, "name": fields["n"], "bare": bare, "server_first": server_first}
        return {"ok": 1, "conversationId": 1, "done": False, "payload": Binary(server_first.encode())}

    def _cmd_saslcontinue(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        state = self.rs.conversations.pop(conn, None)
        if state is None:
            return {"ok": 1, "conversationId": 1, "done": True, "payload": Binary(b"")}
        final = bytes(request.doc["payload"]).decode()
        without_proof, proof = final.rsplit(",p=", 1)
        message = f"{state['bare']},{state['server_first']},{without_proof}".encode()
        user: User = state["user"]
        signature = hmac.digest(user.stored_key, message, "sha256")
        client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))
        if hashlib.sha256(client_key).digest() != user.stored_key:
            return self._error(18, "AuthenticationFailed", "Authentication failed.")
        self.rs.authenticated[conn] = state["name"]
        server_signature = base64.b64encode(hmac.digest(user.server_key, message, "sha256")).decode()
        return {"ok": 1, "conversationId": 1, "done": True, "payload": Binary(f"v={server_signature}".encode())}

    # --- replication

    def _cmd_replsetinitiate(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        self.rs.initiates.append(host)
        if self._in_config(host):
            return self._error(23, "AlreadyInitialized", "already initialized")
        if self.rs.config is not None:  # a real fresh mongod would start a second set with the same name
            self.rs.violations.append(f"replSetInitiate on {host}, outside the live set: a second replica set")
            return self._error(23, "AlreadyInitialized", "simulator: refusing a second replica set")
        config = dict(request.doc["replSetInitiate"])
        if config.get("_id") != self.rs.name:
            return self._error(93, "InvalidReplicaSetConfig", "the set name must match --replSet")
        if not any(m["host"] == host for m in config["members"]):
            return self._error(93, "InvalidReplicaSetConfig", "this node is not in the config")
        refused = self._refused_members(config)
        if refused is not None:
            return refused
        config["version"] = 1
        self.rs.config, self.rs.primary = config, host
        self.rs.users = dict(self.rs.nodes[host].users)
        return {"ok": 1}

    def _cmd_replsetgetconfig(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if not self._in_config(host):  # a fresh mongod knows no config, whatever the others have
            return self._error(94, "NotYetInitialized", "no replset config has been received")
        return {"ok": 1, "config": self.rs.config}

    def _cmd_replsetgetstatus(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if not self._in_config(host) or self.rs.config is None:
            return self._error(94, "NotYetInitialized", "no replset config has been received")
        self._tick_restarts()
        members = []
        for m in self.rs.config["members"]:
            up = m["host"] not in self.rs.down
            if m["host"] == self.rs.primary:
                state = "PRIMARY"
            elif m.get("arbiterOnly"):
                state = "ARBITER"
            elif self._syncing(m["host"]):
                state = "STARTUP2"
            else:
                state = "SECONDARY"
            optime = NOW - dt.timedelta(seconds=self.rs.lag.get(m["host"], 0))
            row = {"_id": m["_id"], "name": m["host"], "health": 1 if up else 0,
                   "stateStr": state if up else "(not reachable/healthy)",
                   "syncSourceHost": self.rs.primary if up and state == "SECONDARY" else ""}
            if not m.get("arbiterOnly"):
                row["optimeDate"] = optime
            members.append(row)
        return {"ok": 1, "set": self.rs.name, "members": members}

    def _cmd_replsetreconfig(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any] | None:
        if request.doc.get("force"):
            self.rs.violations.append("reconfig with force")
            return self._error(103, "NewReplicaSetConfigurationIncompatible", "force is never allowed here")
        if self.rs.uncommitted > 0:
            self.rs.uncommitted -= 1
            return self._error(308, "CurrentConfigNotCommittedYet", "the current config is not yet committed")
        old, new = self.rs.config or {}, dict(request.doc["replSetReconfig"])
        if new["version"] != old["version"] + 1:
            return self._error(103, "NewReplicaSetConfigurationIncompatible", "version must be the current one + 1")
        for m in new["members"]:
            if m.get("arbiterOnly") and (m.get("votes", 1) != 1 or m.get("priority", 0) != 0):
                self.rs.violations.append(f"arbiter {m['host']} without a vote or with a priority")
                return self._error(93, "InvalidReplicaSetConfig", "arbiters must vote and have priority 0")
        refused = self._refused_members(new)
        if refused is not None:
            return refused
        changes = len(self.rs.voters(old) ^ self.rs.voters(new))
        if changes > 1:
            self.rs.violations.append(f"{changes} voting changes in one reconfig")
            return self._error(103, "NewReplicaSetConfigurationIncompatible",
                               "only one voting member can be added or removed at a time")
        if len(new["members"]) > 50 or len(self.rs.voters(new)) > 7:
            self.rs.violations.append("more than 50 members or 7 voters")
            return self._error(103, "NewReplicaSetConfigurationIncompatible", "too many members or voters")
        if len({m["_id"] for m in new["members"]}) != len(new["members"]):
            self.rs.violations.append("duplicate _id in a reconfig")
            return self._error(93, "InvalidReplicaSetConfig", "duplicate _id")
        if not any(m["host"] == host for m in new["members"]):
            return self._error(103, "NewReplicaSetConfigurationIncompatible", "the primary cannot remove itself")
        if self.rs.server_version >= (5, 0) and self.rs.default_write_concern is None and (
                implicit_write_concern_majority(_members(old))
                                                      != implicit_write_concern_majority(_members(new))):
            return self._error(103, "NewReplicaSetConfigurationIncompatible",
                               "Reconfig attempted to install a config that would change the implicit default "
                               "write concern. Use the setDefaultRWConcern command to set a cluster-wide write "
                               "concern and try the reconfig again.")
        before = {m["host"] for m in old["members"]}
        joined = [m["host"] for m in new["members"] if m["host"] not in before]
        if any(h in self.rs.down for h in joined):
            return self._error(74, "NodeNotFound", "Quorum check failed: a new member did not respond")
        new_voters = [m for m in new["members"] if m.get("votes", 1) > 0]
        if 2 * sum(m["host"] not in self.rs.down for m in new_voters) <= len(new_voters):
            return self._error(74, "NodeNotFound", "Quorum check failed because not enough voting nodes responded; "
                               "a majority of the new config's voters must be up")
        for joining in joined:
            if not self.rs.nodes[joining].arbiter:
                self.rs.syncing[joining] = (self.rs.clock() + self.rs.initial_sync_seconds if self.rs.clock
                                            else self.rs.initial_sync_reads)
        self.rs.config = new
        self.rs.reconfigs.append(new)
        self.rs.uncommitted = self.rs.commit_lag
        if self.rs.lost_replies > 0:
            self.rs.lost_replies -= 1
            request.hangup()
            return None
        return {"ok": 1}

    def _refused_members(self, config: dict[str, Any]) -> dict[str, Any] | None:
        for m in config["members"]:
            problem = member_problem(m)
            if problem:
                self.rs.violations.append(f"member {m['_id']}: {problem}")
                return self._error(93, "InvalidReplicaSetConfig", f"{problem}; member: {m}")
        return None

    def _syncing(self, host: str) -> bool:
        """Whether ``host`` is still in initial sync (each status read counts down, or the clock runs)."""
        return host in self.rs.syncing and not self._countdown(self.rs.syncing, host)

    def _cmd_replsetstepdown(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any] | None:
        assert self.rs.config is not None
        doc = request.doc
        if doc.get("force"):
            self.rs.violations.append(f"replSetStepDown with force on {host}")
            return self._error(2, "BadValue", "simulator: force is never allowed here")
        seconds = int(doc["replSetStepDown"]) or 60
        catch_up = int(doc.get("secondaryCatchUpPeriodSecs", 10))
        if seconds <= catch_up:
            return self._error(2, "BadValue", "stepdown period must be longer than secondaryCatchUpPeriodSecs")
        electable = [m for m in self.rs.config["members"] if m["host"] != host and m.get("votes", 1) > 0
                     and m.get("priority", 1) > 0 and m["host"] not in self.rs.down and not m.get("arbiterOnly")
                     and m["host"] not in self.rs.syncing and self.rs.lag.get(m["host"], 0) == 0
                     and self.rs.frozen.get(m["host"], float("-inf")) <= self._now()]
        if not electable:
            return self._error(262, "ExceededTimeLimit", "No electable secondaries caught up as of now. Please use "
                               "the replSetStepDown command with the argument {force: true} to force node to step "
                               "down.")
        self.rs.frozen[host] = self._now() + seconds
        self.rs.step_downs.append(host)
        self.rs.primary = max(electable, key=lambda m: (m.get("priority", 1), -m["_id"]))["host"]
        if self.rs.step_down_hangs_up:
            request.hangup()  # before 4.2 a primary closed every connection as it stepped down
            return None
        return {"ok": 1}

    def _cmd_setdefaultrwconcern(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        concern = request.doc.get("defaultWriteConcern")
        if concern is None and request.doc.get("defaultReadConcern") is None:
            return self._error(2, "BadValue", "At least one of the 'defaultReadConcern' or 'defaultWriteConcern' "
                                              "fields must be present")
        if concern is not None:
            if "w" not in concern or concern["w"] == 0:
                return self._error(2, "BadValue", "the default write concern needs a w other than 0")
            self.rs.default_write_concern = dict(concern)
        return {"ok": 1, **self._rw_concern()}

    def _cmd_getdefaultrwconcern(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        return {"ok": 1, **self._rw_concern()}

    def _rw_concern(self) -> dict[str, Any]:
        if self.rs.server_version < (5, 0):  # 4.4 reports only a default that was set, with no source field
            return {} if self.rs.default_write_concern is None else {
                "defaultWriteConcern": self.rs.default_write_concern}
        if self.rs.default_write_concern is not None:
            return {"defaultWriteConcern": self.rs.default_write_concern, "defaultWriteConcernSource": "global"}
        majority = self.rs.config is None or implicit_write_concern_majority(_members(self.rs.config))
        return {"defaultWriteConcern": {"w": "majority" if majority else 1, "wtimeout": 0},
                "defaultWriteConcernSource": "implicit"}

    # --- versions

    def _cmd_buildinfo(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        version = self.rs.binary(host)
        return {"ok": 1, "version": version, "versionArray": [int(x) for x in version.split(".")[:3]] + [0]}

    def _cmd_getparameter(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if not request.doc.get("featureCompatibilityVersion"):
            return self._error(72, "InvalidOptions", "simulator: only getParameter featureCompatibilityVersion")
        major, minor = self.rs.feature_compatibility()
        fcv = {"version": f"{major}.{minor}", **({"targetVersion": self.rs.fcv_target} if self.rs.fcv_target else {})}
        return {"ok": 1, "featureCompatibilityVersion": fcv}

    def _cmd_setfeaturecompatibilityversion(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        doc = request.doc
        binary = self.rs.release(host)
        if binary >= (7, 0) and doc.get("confirm") is not True:
            return self._error(7369100, "Location7369100", (
                "Once you have upgraded to this featureCompatibilityVersion, you will not be able to downgrade the "
                "featureCompatibilityVersion and binary version without support assistance. Please re-run this "
                "command with 'confirm: true' to acknowledge this and continue with the FCV change."))
        if binary < (7, 0) and "confirm" in doc:
            return self._error(40415, "Location40415",
                               "BSON field 'setFeatureCompatibilityVersion.confirm' is an unknown field.")
        wanted = str(doc["setFeatureCompatibilityVersion"])
        accepted = [f"{v[0]}.{v[1]}" for v in (binary, LAST_LTS.get(binary)) if v]
        if wanted not in accepted:
            return self._error(2, "BadValue", f"Invalid command argument. Expected {' or '.join(map(repr, accepted))}, "
                                              f"found {wanted!r}")
        target = tuple(int(x) for x in wanted.split("."))
        if target > self.rs.feature_compatibility() and self.rs.config is not None:
            behind = sorted(m["host"] for m in self.rs.config["members"] if self.rs.release(m["host"]) < target)
            if behind:
                self.rs.violations.append(f"featureCompatibilityVersion {wanted} while {', '.join(behind)} run older "
                                          "binaries")
                return self._error(2, "BadValue", f"simulator: {', '.join(behind)} run binaries older than {wanted}")
        self.rs.fcv, self.rs.fcv_target = wanted, ""
        self.rs.fcv_changes.append((wanted, doc.get("confirm") is True))
        return {"ok": 1}

    # --- users

    def _cmd_createuser(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        name = request.doc["createUser"]
        if name in self.rs.users:
            return self._error(51003, "Location51003", f"User \"{name}@admin\" already exists")
        self.rs.users[name] = User.make(request.doc["pwd"])
        return {"ok": 1}

    def _cmd_updateuser(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        name = request.doc["updateUser"]
        if name not in self.rs.users:
            return self._error(11, "UserNotFound", f"Could not find user \"{name}\" for db \"admin\"")
        self.rs.users[name] = User.make(request.doc["pwd"])
        return {"ok": 1}

    def _cmd_usersinfo(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        return {"ok": 1, "users": [{"user": u, "db": "admin"} for u in sorted(self._users(host))]}

    # --- the local database (writable on every member, initiated or not)

    def _cmd_insert(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if (request.doc.get("$db"), request.doc["insert"]) == ROLLOUT:
            return self._rollout(host, request.doc)
        if request.doc.get("$db") != "local" or request.doc["insert"] != "fedrender_init":
            return self._error(59, "CommandNotFound", "simulator: only local.fedrender_init takes inserts")
        local = self.rs.nodes[host].local
        for doc in request.doc["documents"]:
            if doc["_id"] in local:
                return {"ok": 1, "n": 0, "writeErrors": [{"index": 0, "code": 11000,
                                                         "errmsg": "E11000 duplicate key error"}]}
            local[doc["_id"]] = dict(doc)
        return {"ok": 1, "n": len(request.doc["documents"])}

    def _cmd_find(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if (request.doc.get("$db"), request.doc["find"]) == ROLLOUT:
            return self._rollout(host, request.doc)
        if request.doc.get("$db") != "local" or request.doc["find"] != "fedrender_init":
            return self._error(59, "CommandNotFound", "simulator: only local.fedrender_init is readable")
        wanted = (request.doc.get("filter") or {}).get("_id")
        docs = [d for k, d in sorted(self.rs.nodes[host].local.items()) if wanted is None or k == wanted]
        return {"ok": 1, "cursor": {"id": 0, "ns": "local.fedrender_init", "firstBatch": docs}}

    # --- fedrender.rollout: a replicated collection, read and written on the primary only

    def _cmd_update(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if (request.doc.get("$db"), request.doc["update"]) != ROLLOUT:
            return self._error(59, "CommandNotFound", "simulator: only fedrender.rollout takes updates")
        return self._rollout(host, request.doc)

    def _cmd_delete(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if (request.doc.get("$db"), request.doc["delete"]) != ROLLOUT:
            return self._error(59, "CommandNotFound", "simulator: only fedrender.rollout takes deletes")
        return self._rollout(host, request.doc)

    def _rollout(self, host: str, doc: dict[str, Any]) -> dict[str, Any]:
        """find/insert/update/delete on fedrender.rollout: equality filters, replacement or ``$set`` updates."""
        if host != self.rs.primary:
            return self._error(10107, "NotWritablePrimary", "not primary")
        docs = self.rs.rollout
        if "find" not in doc and (doc.get("writeConcern") or {}).get("w") != "majority":
            self.rs.violations.append(f"a fedrender.rollout write without w: majority: {sorted(doc)}")

        def match(d: dict[str, Any], q: dict[str, Any]) -> bool:
            return all(d.get(k) == v for k, v in q.items())

        if "find" in doc:
            found = [d for _, d in sorted(docs.items()) if match(d, doc.get("filter") or {})]
            return {"ok": 1, "cursor": {"id": 0, "ns": "fedrender.rollout", "firstBatch": found}}
        if "insert" in doc:
            for index, new in enumerate(doc["documents"]):
                if new["_id"] in docs:
                    message = f"E11000 duplicate key error collection: fedrender.rollout dup key: {new['_id']!r}"
                    return {"ok": 1, "n": index, "writeErrors": [{"index": index, "code": 11000, "errmsg": message}]}
                docs[new["_id"]] = dict(new)
            return {"ok": 1, "n": len(doc["documents"])}
        if "delete" in doc:
            n = 0
            for spec in doc["deletes"]:
                for key in [k for k, d in sorted(docs.items()) if match(d, spec["q"])][:spec.get("limit") or None]:
                    del docs[key]
                    n += 1
            return {"ok": 1, "n": n}
        n, upserted = 0, []
        for index, spec in enumerate(doc["updates"]):
            change = spec["u"]
            if any(k.startswith("$") and k != "$set" for k in change):
                return self._error(2, "BadValue", "simulator: only a replacement or $set")
            hits = [k for k, d in sorted(docs.items()) if match(d, spec["q"])]
            if hits:
                for key in hits[:1]:
                    docs[key] = ({**docs[key], **change["$set"]} if "$set" in change else {"_id": key, **change})
                n += 1
                continue
            if not spec.get("upsert"):
                continue
            new = {**spec["q"], **(change.get("$set", {}) if "$set" in change else change)}
            if new["_id"] in docs:
                return {"ok": 1, "n": n, "writeErrors": [{"index": index, "code": 11000,
                                                         "errmsg": "E11000 duplicate key error"}]}
            docs[new["_id"]] = new
            upserted.append({"index": index, "_id": new["_id"]})
            n += 1
        return {"ok": 1, "n": n, "nModified": n - len(upserted), **({"upserted": upserted} if upserted else {})}
