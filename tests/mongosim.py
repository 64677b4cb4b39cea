"""A MongoDB replica set simulated over the wire with MockupDB, strict about MongoDB's rules.

One MockupDB server per member host; all share one model. Enforced: replSetInitiate once (code 23
after), reconfig only on the primary (10107), the version must follow, at most one voting change per
reconfig (103), at most 50 members and 7 voters, never ``force``; 308 while the last config is not
committed; step-down elects another electable member. Authentication is real SCRAM-SHA-256; with no
user yet, unauthenticated commands are allowed (the localhost exception). A host can be taken down to
simulate a mongod restart: it hangs up on every request.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any

from bson import Binary
from mockupdb import MockupDB

ITERATIONS = 4096
NOW = dt.datetime(2026, 11, 22, 12, 0, 0)


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


@dataclass
class ReplicaSet:
    name: str
    config: dict[str, Any] | None = None
    primary: str = ""
    users: dict[str, User] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    hiccups: dict[str, int] = field(default_factory=dict)  # host -> requests to hang up on (a restart)
    lag: dict[str, int] = field(default_factory=dict)  # host -> seconds behind the primary
    uncommitted: bool = False
    commit_lag: bool = False  # when set, the reconfig after a reconfig first gets 308
    violations: list[str] = field(default_factory=list)
    reconfigs: list[dict[str, Any]] = field(default_factory=list)
    authenticated: set[tuple[str, int]] = field(default_factory=set)
    conversations: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def voters(self, config: dict[str, Any]) -> set[int]:
        return {m["_id"] for m in config["members"] if m.get("votes", 1) > 0}


class Simulator:
    """Start one server per host with ``add_host``; ``hosts`` are 127.0.0.1:<port>."""

    def __init__(self, name: str = "db") -> None:
        self.rs = ReplicaSet(name)
        self.servers: dict[str, MockupDB] = {}
        self.reconcilers: dict[str, Any] = {}  # one reconciler (its adapter) per cluster, as deployed

    def add_host(self) -> str:
        server = MockupDB(auto_ismaster=False)
        port = server.run()
        host = f"127.0.0.1:{port}"
        self.servers[host] = server
        server.autoresponds(lambda request, host=host: self._handle(host, request))
        return host

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    # --- request handling

    def _handle(self, host: str, request: Any) -> bool:
        if host in self.rs.down:
            request.hangup()
            return True
        if self.rs.hiccups.get(host, 0) > 0 and request.command_name.lower() == "replsetreconfig":
            self.rs.hiccups[host] -= 1
            request.hangup()
            return True
        name = request.command_name
        handler = getattr(self, f"_cmd_{name.lower()}", None)
        if handler is None:
            return request.replies({"ok": 0, "errmsg": f"simulator: no such command {name}", "code": 59})  # type: ignore[no-any-return]
        conn = (host, request.client_port)
        needs_auth = name.lower() not in ("hello", "ismaster", "ping", "saslstart", "saslcontinue", "endsessions")
        if needs_auth and self.rs.users and conn not in self.rs.authenticated:
            return request.replies({"ok": 0, "code": 13, "codeName": "Unauthorized",  # type: ignore[no-any-return]
                                    "errmsg": f"command {name} requires authentication"})
        reply = handler(host, request, conn)
        if reply is None:
            return True
        return request.replies(reply)  # type: ignore[no-any-return]

    @staticmethod
    def _error(code: int, name: str, message: str) -> dict[str, Any]:
        return {"ok": 0, "code": code, "codeName": name, "errmsg": message}

    def _cmd_hello(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        config = self.rs.config
        in_set = config is not None and any(m["host"] == host for m in config["members"])
        primary = host == self.rs.primary
        reply: dict[str, Any] = {"ok": 1, "isWritablePrimary": primary, "ismaster": primary,
                                 "maxWireVersion": 21, "minWireVersion": 0, "me": host}
        if in_set and config is not None:
            reply.update(setName=self.rs.name, secondary=host != self.rs.primary,
                         hosts=[m["host"] for m in config["members"]], setVersion=config["version"])
        return reply

    _cmd_ismaster = _cmd_hello

    def _cmd_ping(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        return {"ok": 1}

    def _cmd_endsessions(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        return {"ok": 1}

    def _cmd_saslstart(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        doc = request.doc
        if doc.get("mechanism") != "SCRAM-SHA-256":
            return self._error(2, "BadValue", "simulator only speaks SCRAM-SHA-256")
        first = bytes(doc["payload"]).decode()
        bare = first.split(",", 2)[2]
        fields = dict(part.split("=", 1) for part in bare.split(","))
        user = self.rs.users.get(fields["n"])
        if user is None:
            return self._error(18, "AuthenticationFailed", "Authentication failed.")
        nonce = fields["r"] + base64.b64encode(os.urandom(18)).decode()
        server_first = f"r={nonce},s={base64.b64encode(user.salt).decode()},i={ITERATIONS}"
        self.rs.conversations[conn] = {"user": user, "bare": bare, "server_first": server_first, "nonce": nonce}
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
        self.rs.authenticated.add(conn)
        server_signature = base64.b64encode(hmac.digest(user.server_key, message, "sha256")).decode()
        return {"ok": 1, "conversationId": 1, "done": True, "payload": Binary(f"v={server_signature}".encode())}

    def _cmd_replsetinitiate(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if self.rs.config is not None and self._in_config(host):
            return self._error(23, "AlreadyInitialized", "already initialized")
        if self.rs.config is not None:  # a fresh node would happily start a second set with the same name
            self.rs.violations.append(f"replSetInitiate on {host}, outside the live set: a second replica set")
            return self._error(23, "AlreadyInitialized", "simulator: refusing a second replica set")
        config = dict(request.doc["replSetInitiate"])
        if not any(m["host"] == host for m in config["members"]):
            return self._error(93, "InvalidReplicaSetConfig", "this node is not in the config")
        config["version"] = 1
        self.rs.config, self.rs.primary = config, host
        return {"ok": 1}

    def _in_config(self, host: str) -> bool:
        return self.rs.config is not None and any(m["host"] == host for m in self.rs.config["members"])

    def _cmd_replsetgetconfig(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if not self._in_config(host):  # a fresh mongod knows no config, whatever the others have
            return self._error(94, "NotYetInitialized", "no replset config has been received")
        return {"ok": 1, "config": self.rs.config}

    def _cmd_replsetgetstatus(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if not self._in_config(host) or self.rs.config is None:
            return self._error(94, "NotYetInitialized", "no replset config has been received")
        members = []
        for m in self.rs.config["members"]:
            up = m["host"] not in self.rs.down
            state = "PRIMARY" if m["host"] == self.rs.primary else ("ARBITER" if m.get("arbiterOnly") else "SECONDARY")
            optime = NOW - dt.timedelta(seconds=self.rs.lag.get(m["host"], 0))
            members.append({"_id": m["_id"], "name": m["host"], "health": 1 if up else 0,
                            "stateStr": state if up else "(not reachable/healthy)", "optimeDate": optime,
                            "syncSourceHost": self.rs.primary if up and m["host"] != self.rs.primary else ""})
        return {"ok": 1, "set": self.rs.name, "members": members}

    def _cmd_replsetreconfig(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if request.doc.get("force"):
            self.rs.violations.append("reconfig with force")
            return self._error(103, "NewReplicaSetConfigurationIncompatible", "force is never allowed here")
        if host != self.rs.primary:
            return self._error(10107, "NotWritablePrimary", "replSetReconfig should only be run on a writable PRIMARY")
        if self.rs.uncommitted:
            self.rs.uncommitted = False
            return self._error(308, "CurrentConfigNotCommittedYet", "the current config is not yet committed")
        old, new = self.rs.config or {}, dict(request.doc["replSetReconfig"])
        if new["version"] != old["version"] + 1:
            return self._error(103, "NewReplicaSetConfigurationIncompatible", "version must be the current one + 1")
        changes = len(self.rs.voters(old) ^ self.rs.voters(new))
        if changes > 1:
            self.rs.violations.append(f"{changes} voting changes in one reconfig")
            return self._error(103, "NewReplicaSetConfigurationIncompatible",
                               "only one voting member can be added or removed at a time")
        if len(new["members"]) > 50 or len(self.rs.voters(new)) > 7:
            self.rs.violations.append("more than 50 members or 7 voters")
            return self._error(103, "NewReplicaSetConfigurationIncompatible", "too many members or voters")
        if not any(m["host"] == host for m in new["members"]):
            return self._error(103, "NewReplicaSetConfigurationIncompatible", "the primary cannot remove itself")
        self.rs.config = new
        self.rs.reconfigs.append(new)
        self.rs.uncommitted = self.rs.commit_lag
        return {"ok": 1}

    def _cmd_replsetstepdown(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any] | None:
        if host != self.rs.primary or self.rs.config is None:
            return self._error(10107, "NotWritablePrimary", "not primary")
        electable = [m for m in self.rs.config["members"] if m["host"] != host and m.get("votes", 1) > 0
                     and m.get("priority", 1) > 0 and m["host"] not in self.rs.down and not m.get("arbiterOnly")]
        if not electable:
            return self._error(262, "ExceededTimeLimit", "no electable secondaries caught up")
        self.rs.primary = min(electable, key=lambda m: m["_id"])["host"]
        request.hangup()  # a primary closes its connections when it steps down
        return None

    def _cmd_createuser(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        if host != self.rs.primary:
            return self._error(10107, "NotWritablePrimary", "not primary")
        name = request.doc["createUser"]
        if not self.rs.users and name != "root":
            return self._error(13, "Unauthorized", "the localhost exception only creates the first user")
        if name in self.rs.users:
            return self._error(51003, "Location51003", f"User \"{name}@admin\" already exists")
        self.rs.users[name] = User.make(request.doc["pwd"])
        return {"ok": 1}

    def _cmd_usersinfo(self, host: str, request: Any, conn: tuple[str, int]) -> dict[str, Any]:
        return {"ok": 1, "users": [{"user": u, "db": "admin"} for u in sorted(self.rs.users)]}
