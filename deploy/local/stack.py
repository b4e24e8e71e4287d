#!/usr/bin/env python3
"""Local real-service stack for snaproom-gateway tests: PostgreSQL, Redis (master, replica,
three Sentinels) and a three-node Apache Kafka KRaft cluster, all on 127.0.0.1, started from
local binaries (no Docker). Standard library only: it runs before the virtualenv exists.

CLI:   python3 deploy/local/stack.py {install,up,down,status,env,reset} [names...]
API:   from deploy.local.stack import Stack   (or load this file by path)
       st = Stack(); st.up(); st.env(); st.kill("redis-master"); st.start("redis-master"); st.down()

State lives in <repo>/.stack (env SNAPROOM_STACK_DIR); every port is shifted by
SNAPROOM_STACK_PORT_OFFSET (default 0) so several stacks can run side by side. Only processes
this module started (PIDs recorded in the state dir, checked against their start time) are
ever signalled.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KAFKA_VERSION = "4.4.0"  # keep in step with deploy/kafka/pom.xml

PG_USER, PG_PASSWORD, PG_DB = "snaproom", "snaproom_secret", "snaproom"
PG_OS_USER = "snaproom-pg"  # PostgreSQL refuses to run as root
REDIS_PASSWORD = "redis_secret"
SENTINEL_MASTER = "snaproom-master"

BASE_PORTS = {
    "postgres": 55432,
    "redis-master": 6379,
    "redis-replica": 6380,
    "sentinel-1": 26379,
    "sentinel-2": 26380,
    "sentinel-3": 26381,
    # The TLS-only Redis group (issue 16): its own master, replica and Sentinels, so the
    # plaintext group above keeps serving every other test. A base range of its own.
    "redis-tls-master": 16379,
    "redis-tls-replica": 16380,
    "sentinel-tls-1": 16381,
    "sentinel-tls-2": 16382,
    "sentinel-tls-3": 16383,
    "kafka-1": 9092,
    "kafka-2": 9093,
    "kafka-3": 9094,
}
# kafka-N controller listener: 19191 + N; far from the client ports, so
# stacks at port offsets a few hundred apart never collide
KAFKA_CONTROLLER_BASE = 19192
# kafka-N SASL_SSL listener (SCRAM-SHA-512 over TLS, ACLs; issue 16): 29091 + N, a base range of
# its own. The PLAINTEXT listener above stays for every other test: its principal
# (User:ANONYMOUS) is a super user, as is the controller listener's.
KAFKA_SECURE_BASE = 29092
SERVICES = list(BASE_PORTS)  # start order
REDIS_NODES = ("redis-master", "redis-replica")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
TLS_REDIS_NODES = ("redis-tls-master", "redis-tls-replica")
TLS_SENTINELS = ("sentinel-tls-1", "sentinel-tls-2", "sentinel-tls-3")
TLS_SENTINEL_MASTER = "snaproom-tls"
KAFKAS = ("kafka-1", "kafka-2", "kafka-3")
GROUPS = {
    "redis": list(REDIS_NODES) + list(SENTINELS),
    "sentinels": list(SENTINELS),
    "redis-tls": list(TLS_REDIS_NODES) + list(TLS_SENTINELS),
    "kafka": list(KAFKAS),
    "pg": ["postgres"],
    "all": SERVICES,
}
STOP_SIGNAL = {"postgres": signal.SIGINT}  # SIGINT = fast shutdown; SIGTERM would wait for clients
STOP_TIMEOUT = {"postgres": 15.0, "kafka": 30.0}
DEFAULT_UP_TIMEOUT = float(os.environ.get("SNAPROOM_STACK_TIMEOUT", "120"))


class StackError(RuntimeError):
    pass


# --------------------------------------------------------------------------- small clients


def _tcp_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _resp_encode(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class _RespReader:
    def __init__(self, sock: socket.socket):
        self.f = sock.makefile("rb")

    def read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisReplyError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ConnectionError(f"bad RESP line {line!r}")


class RedisReplyError(Exception):
    pass


def redis_cmd(port: int, *args, password: str | None = REDIS_PASSWORD, timeout: float = 1.0,
              tls_ca: Path | None = None):
    """Send one command to 127.0.0.1:port (after AUTH if password) and return the reply; over
    TLS, verifying the server against tls_ca, when given.
    Raises OSError/ConnectionError if unreachable, RedisReplyError on an error reply."""
    with contextlib.ExitStack() as stack:
        s = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=timeout))
        if tls_ca is not None:
            s = stack.enter_context(
                ssl.create_default_context(cafile=str(tls_ca)).wrap_socket(
                    s, server_hostname="127.0.0.1"))
        s.settimeout(timeout)
        r = _RespReader(s)
        if password:
            s.sendall(_resp_encode("AUTH", password))
            rep = r.read()
            if isinstance(rep, RedisReplyError):
                raise rep
        s.sendall(_resp_encode(*args))
        rep = r.read()
        if isinstance(rep, RedisReplyError):
            raise rep
        return rep


def redis_info(port: int, section: str = "replication", **kw) -> dict[str, str]:
    text = redis_cmd(port, "INFO", section, **kw)
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def _pairs(flat) -> dict:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def kafka_metadata(port: int, timeout: float = 2.0) -> dict:
    """Metadata request (v4, all topics) to a broker using the raw Kafka protocol.
    Returns {"brokers": [(id, host, port)], "cluster_id", "controller_id", "topics": {name: n}}."""
    client = b"snaproom-stack"
    body = struct.pack(">hhih", 3, 4, 1, len(client)) + client + struct.pack(">ib", -1, 0)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">i", len(body)) + body)
        f = s.makefile("rb")
        (size,) = struct.unpack(">i", f.read(4))
        buf = f.read(size)
    if len(buf) != size:
        raise ConnectionError("short Kafka response")
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return vals if len(vals) > 1 else vals[0]

    def string():
        nonlocal pos
        n = take(">h")
        if n < 0:
            return None
        v = buf[pos : pos + n].decode()
        pos += n
        return v

    _corr, _throttle, nb = take(">iii")
    brokers = []
    for _ in range(nb):
        node = take(">i")
        host = string()
        bport = take(">i")
        string()  # rack
        brokers.append((node, host, bport))
    cluster_id = string()
    controller = take(">i")
    topics = {}
    for _ in range(take(">i")):
        err = take(">h")
        name = string()
        take(">b")
        nparts = take(">i")
        for _ in range(nparts):
            take(">hii")
            for _ in range(2):  # replicas, isr
                # Not `pos += 4 * take(...)`: that reads `pos` before take() advances it.
                count = take(">i")
                pos += 4 * count
        topics[name] = {"error": err, "partitions": nparts}
    return {"brokers": sorted(brokers), "cluster_id": cluster_id, "controller_id": controller,
            "topics": topics}


# --------------------------------------------------------------------------- process helpers


def _proc_start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2 :].split()
    if fields[0] == "Z":
        # A JVM's main thread can end (zombie leader) while its shutdown threads still run and
        # still hold the ports: the process is gone only when its last thread is.
        with contextlib.suppress(OSError):
            if len(os.listdir(f"/proc/{pid}/task")) > 1:
                return fields[19]
        with contextlib.suppress(ChildProcessError, OSError):  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        return None
    return fields[19]


def _tail(path: Path, n: int = 30) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(lines[-n:]) or "(log is empty)"


def _which_pg_bin() -> Path | None:
    env = os.environ.get("SNAPROOM_PG_BIN")
    if env:
        return Path(env)
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if cands:
        return Path(cands[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def kafka_libs_dir() -> Path:
    env = os.environ.get("SNAPROOM_KAFKA_LIBS")
    if env:
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "snaproom-gateway" / f"kafka-{KAFKA_VERSION}"


def fetch_kafka_libs(verbose: bool = True) -> Path:
    """Copy Kafka's jars from Maven Central into the cache dir, once (atomic, locked)."""
    dest = kafka_libs_dir()
    if (dest / ".complete").exists():
        return dest
    if not shutil.which("mvn"):
        raise StackError(
            "mvn not found: run `python3 deploy/local/stack.py install` (needs maven, Java 17)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".kafka-{KAFKA_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (dest / ".complete").exists():
            return dest
        if verbose:
            print(f"fetching Apache Kafka {KAFKA_VERSION} jars into {dest} (Maven Central) ...",
                  flush=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".kafka-{KAFKA_VERSION}-", dir=dest.parent))
        t0 = time.monotonic()
        proc = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(DEPLOY / "kafka" / "pom.xml"),
             "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"],
            cwd=str(DEPLOY / "kafka"), capture_output=True, text=True)
        if proc.returncode != 0 or not list(tmp.glob("kafka_2.13-*.jar")):
            shutil.rmtree(tmp, ignore_errors=True)
            raise StackError(f"mvn dependency:copy-dependencies failed:\n"
                             f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        (tmp / ".complete").write_text(KAFKA_VERSION + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
        if verbose:
            print(f"  fetched in {time.monotonic() - t0:.1f}s", flush=True)
    return dest


def _ensure_pg_os_user() -> tuple[int, int] | None:
    """When root, the uid/gid PostgreSQL runs as (creating the system user if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(PG_OS_USER)
    except KeyError:
        r = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", "--user-group", PG_OS_USER],
                           capture_output=True, text=True)
        try:  # another stack may have created it meanwhile
            pw = pwd.getpwnam(PG_OS_USER)
        except KeyError:
            raise StackError(f"useradd {PG_OS_USER} failed: {r.stderr.strip()}") from None
    return pw.pw_uid, pw.pw_gid


def _traversable(path: Path, uid: int) -> bool:
    """Whether user `uid` can enter `path` (every directory on the way has o+x or is its)."""
    for p in [path, *path.parents]:
        st = p.stat()
        if st.st_uid != uid and not st.st_mode & 0o001:
            return False
    return True


def _apply_overrides(template: str, overrides: list[tuple[str, str]], sep: str = " ") -> str:
    """Drop template lines whose key is overridden, then append the overrides (key sep value).
    Keys may be multi-word (e.g. "sentinel monitor")."""
    keys = [k for k, _ in overrides]
    kept = []
    for line in template.splitlines():
        s = line.strip()
        if sep == "=":
            if s and not s.startswith("#") and s.split("=", 1)[0].strip() in keys:
                continue
        elif any(s == k or s.startswith(k + " ") for k in keys):
            continue
        kept.append(line)
    kept.append("")
    kept.append("# ---- written by deploy/local/stack.py")
    kept += [f"{k}{sep}{v}" for k, v in overrides]
    return "\n".join(kept) + "\n"


# --------------------------------------------------------------------------- the stack


class Stack:
    """A local stack rooted at a state dir. Safe to construct many times over the same dir."""

    def __init__(self, state_dir: str | os.PathLike | None = None, port_offset: int | None = None,
                 verbose: bool = True):
        self.state_dir = Path(
            state_dir or os.environ.get("SNAPROOM_STACK_DIR") or REPO / ".stack").resolve()
        meta = self._read_meta()
        if port_offset is None:
            env = os.environ.get("SNAPROOM_STACK_PORT_OFFSET")
            port_offset = int(env) if env else int(meta.get("port_offset", 0))
        self.port_offset = int(port_offset)
        self.verbose = verbose
        self.ports = {n: p + self.port_offset for n, p in BASE_PORTS.items()}
        self.controller_ports = {n: KAFKA_CONTROLLER_BASE + i + self.port_offset
                                 for i, n in enumerate(KAFKAS)}
        self.secure_ports = {n: KAFKA_SECURE_BASE + i + self.port_offset
                             for i, n in enumerate(KAFKAS)}
        self._children: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- public API

    def up(self, *names: str, timeout: float | None = None) -> list[str]:
        """Start the named services (default: all) that are not running and wait until every
        named service is ready. Returns the names this call started."""
        names_l = self._expand(names)
        timeout = DEFAULT_UP_TIMEOUT if timeout is None else timeout
        self._check_offset()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._write_meta()
        to_start = [n for n in names_l if not self.is_running(n)]
        for n in to_start:
            if _tcp_open(self.ports[n]) or (n in KAFKAS and (
                    _tcp_open(self.controller_ports[n]) or _tcp_open(self.secure_ports[n]))):
                raise StackError(f"{n}: port {self.ports[n]} is in use by a process "
                                 f"this stack did not start; "
                                 f"stop it or set SNAPROOM_STACK_PORT_OFFSET")
        if any(n in KAFKAS for n in to_start):
            fetch_kafka_libs(self.verbose)
        t0 = time.monotonic()
        try:
            self._prepare_and_spawn(to_start)
            self._wait_ready(names_l, to_start, t0, timeout)
        except BaseException:
            # Leave nothing behind: a failed `up` would otherwise leave the services it did
            # start running, unseen by a caller who only saw the error.
            started = [n for n in to_start if self.is_running(n)]
            if started:
                self._log(f"stopping what this call started: {', '.join(started)}")
                self.down(*started)
            raise
        return to_start

    def start(self, name: str, timeout: float | None = None) -> None:
        """(Re)start one stopped service with its existing data and wait until ready."""
        self.up(name, timeout=timeout)

    def down(self, *names: str, timeout: float | None = None) -> list[str]:
        """Stop the named services (default: all): stop signal, wait, SIGKILL after a bound.
        Only PIDs recorded by this module are signalled. Returns the names that were running."""
        names_l = self._expand(names)
        running = [n for n in names_l if self.is_running(n)]
        # Stop clients of a service before the service: Kafka, Sentinels, replica, master, Postgres.
        order = (list(KAFKAS) + list(SENTINELS) + ["redis-replica", "redis-master"]
                 + list(TLS_SENTINELS) + ["redis-tls-replica", "redis-tls-master", "postgres"])
        pids = {}
        for n in order:
            if n in running:
                pid = self._pid(n)
                if pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, STOP_SIGNAL.get(n, signal.SIGTERM))
                    pids[n] = pid
        for n, pid in pids.items():
            bound = timeout if timeout is not None else STOP_TIMEOUT.get(n.split("-")[0], 10.0)
            if not self._wait_exit(n, bound):
                self._log(f"  {n}: did not stop within {bound:.0f}s, SIGKILL")
                self.kill(n)
            else:
                self._clear_pid(n)
            if self.verbose:
                self._log(f"  {n:<14} stopped (pid {pid})")
        return running

    def stop(self, name: str, timeout: float | None = None) -> None:
        self.down(name, timeout=timeout)

    def kill(self, name: str) -> None:
        """SIGKILL one service (for fault tests) and wait until it is gone."""
        pid = self._pid(name)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self._wait_exit(name, 10.0)
        self._clear_pid(name)

    def is_running(self, name: str) -> bool:
        return self._pid(name) is not None

    def running(self) -> list[str]:
        return [n for n in SERVICES if self.is_running(n)]

    def is_ready(self, name: str) -> bool:
        try:
            return self._ready(name)
        except Exception:
            return False

    def env(self) -> dict[str, str]:
        p = self.ports
        return {
            "DATABASE_URL": f"postgresql+asyncpg://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{p['postgres']}/{PG_DB}",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{p[s]}" for s in SENTINELS),
            "REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
            "REDIS_PASSWORD": REDIS_PASSWORD,
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(p["redis-master"]),
            "CACHE_DRIVER": "redis",
            "KAFKA_BROKERS": ",".join(f"127.0.0.1:{p[k]}" for k in KAFKAS),
        }

    def redis_master_port(self, tls: bool = False) -> int | None:
        """The port Sentinels currently report as master (first Sentinel that answers); of the
        TLS group with tls=True."""
        sentinels, master = (TLS_SENTINELS, TLS_SENTINEL_MASTER) if tls else (
            SENTINELS, SENTINEL_MASTER)
        for s in sentinels:
            try:
                host, port = redis_cmd(self.ports[s], "SENTINEL", "get-master-addr-by-name",
                                       master, password=None, tls_ca=self._ca(s))
                return int(port)
            except Exception:
                continue
        return None

    def redis_node_for_port(self, port: int) -> str | None:
        return next((n for n in REDIS_NODES + TLS_REDIS_NODES if self.ports[n] == port), None)

    # -- TLS (issue 16): one CA per state dir, a server certificate for 127.0.0.1/localhost

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    def ensure_tls(self) -> Path:
        """Make the CA and the server certificate (openssl) on first use; returns the dir with
        ca.pem, server.pem, server.key and server-bundle.pem (key + chain, for Kafka's PEM
        keystore)."""
        d = self.tls_dir
        if (d / ".complete").exists():
            return d
        d.mkdir(parents=True, exist_ok=True)
        openssl = shutil.which("openssl")
        if not openssl:
            raise StackError("openssl not found: run `python3 deploy/local/stack.py install`")
        with open(d / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (d / ".complete").exists():
                return d

            def run(*argv: str) -> None:
                r = subprocess.run([openssl, *argv], cwd=str(d), capture_output=True, text=True)
                if r.returncode != 0:
                    raise StackError(f"openssl {argv[0]} failed:\n{r.stderr[-2000:]}")

            run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "3650", "-subj", "/CN=snaproom local test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
            run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
                "-out", "server.csr", "-subj", "/CN=localhost")
            (d / "server.ext").write_text(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth,clientAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n")
            run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "server.pem", "-days", "825",
                "-extfile", "server.ext")
            # PKCS#8 key then the chain: what Kafka reads as a PEM keystore.
            run("pkcs8", "-topk8", "-nocrypt", "-in", "server.key", "-out", "server.pk8")
            (d / "server-bundle.pem").write_text(
                (d / "server.pk8").read_text() + (d / "server.pem").read_text()
                + (d / "ca.pem").read_text())
            for key in ("ca.key", "server.key", "server.pk8", "server-bundle.pem"):
                os.chmod(d / key, 0o600)
            (d / ".complete").write_text("ok\n")
        return d

    def secure_kafka(self, *principals: tuple[str, str, str, list[str]]) -> None:
        """Upsert SCRAM-SHA-512 users, each (user, password, group_prefix, topics), and allow
        each its topics (read, write, describe, create, describe configs) and the groups under
        its prefix, nothing else (Java's single-file launcher with the Kafka jars, through the
        PLAINTEXT listener; one JVM for all)."""
        # Once per cluster and set of arguments: the credentials and ACLs live in the cluster's
        # metadata, which outlives restarts (a `reset` formats a new cluster id).
        cluster = self._read_meta().get("kafka_cluster_id")
        todo = []
        for user, password, group_prefix, topics in principals:
            wanted = json.dumps([cluster, user, password, group_prefix, sorted(topics)])
            marker = self.state_dir / f"kafka-secured-{user}.json"
            with contextlib.suppress(OSError):
                if marker.read_text() == wanted:
                    continue
            todo.append((marker, wanted, [user, password, group_prefix, ",".join(topics)]))
        if not todo:
            return
        java = shutil.which("java")
        if not java:
            raise StackError("java not found: run `python3 deploy/local/stack.py install`")
        libs = fetch_kafka_libs(self.verbose)
        bootstrap = ",".join(f"127.0.0.1:{self.ports[k]}" for k in KAFKAS)
        logs = self.state_dir / "kafka-setup"  # log4j2.yaml's files, not in the caller's cwd
        logs.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                            f"-Dlog4j2.configurationFile={DEPLOY / 'kafka' / 'log4j2.yaml'}",
                            f"-Dkafka.logs.dir={logs}",
                            "-cp", f"{libs}/*", str(DEPLOY / "kafka" / "SecureSetup.java"),
                            bootstrap, *(arg for _, _, args in todo for arg in args)],
                           capture_output=True, text=True, timeout=300, cwd=str(logs))
        if r.returncode != 0:
            raise StackError(f"kafka SCRAM users/ACLs failed:\n"
                             f"{r.stdout[-2000:]}{r.stderr[-3000:]}")
        for marker, wanted, _ in todo:
            marker.write_text(wanted)

    def secure_kafka_env(self, user: str, password: str) -> dict[str, str]:
        """env() for the brokers' SASL_SSL listener, as `user`."""
        return self.env() | {
            "KAFKA_BROKERS": ",".join(f"127.0.0.1:{self.secure_ports[k]}" for k in KAFKAS),
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": password,
            "KAFKA_SSL_CAFILE": str(self.tls_dir / "ca.pem"),
        }

    def tls_env(self) -> dict[str, str]:
        """env() for the TLS Redis group: Sentinels and nodes on TLS only."""
        p = self.ports
        return self.env() | {
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{p[s]}" for s in TLS_SENTINELS),
            "REDIS_SENTINEL_MASTER": TLS_SENTINEL_MASTER,
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(p["redis-tls-master"]),
            "REDIS_SSL": "true",
            "REDIS_SSL_CA_FILE": str(self.tls_dir / "ca.pem"),
        }

    def _ca(self, name: str) -> Path | None:
        """The CA to verify `name` with, if it speaks TLS."""
        return self.tls_dir / "ca.pem" if name in TLS_REDIS_NODES + TLS_SENTINELS else None

    def log_path(self, name: str) -> Path:
        if name in KAFKAS:
            return self.state_dir / name / "logs" / "server.log"
        return self.state_dir / name / f"{name}.log"

    def status(self) -> list[dict]:
        rows = []
        for n in SERVICES:
            pid = self._pid(n)
            rows.append({"name": n, "port": self.ports[n], "pid": pid, "running": pid is not None,
                         "ready": pid is not None and self.is_ready(n)})
        return rows

    def reset(self) -> None:
        """Stop everything, then delete the state dir (and PostgreSQL's data kept outside it)."""
        self.down()
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)
        shutil.rmtree(self._pg_outside_dir(), ignore_errors=True)

    # ---------------------------------------------------------------- internals

    def _log(self, msg: str) -> None:
        if self.verbose:
            print(msg, flush=True)

    def _expand(self, names) -> list[str]:
        if not names:
            return list(SERVICES)
        out = []
        for n in names:
            if n in GROUPS:
                out += GROUPS[n]
            elif n in BASE_PORTS:
                out.append(n)
            else:
                raise StackError(f"unknown service {n!r}; known: {', '.join(SERVICES)} "
                                 f"or groups {', '.join(GROUPS)}")
        return [n for n in SERVICES if n in out]

    def _read_meta(self) -> dict:
        try:
            return json.loads((self.state_dir / "stack.json").read_text())
        except (OSError, ValueError):
            return {}

    def _write_meta(self) -> None:
        meta = self._read_meta()
        meta["port_offset"] = self.port_offset
        meta.setdefault("kafka_cluster_id",
                        base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        (self.state_dir / "stack.json").write_text(json.dumps(meta, indent=2) + "\n")

    def _check_offset(self) -> None:
        meta = self._read_meta()
        old = meta.get("port_offset")
        if old is not None and old != self.port_offset and self.running():
            raise StackError(f"{self.state_dir} runs with port offset {old}, "
                             f"not {self.port_offset}; "
                             f"run `down` first or use another SNAPROOM_STACK_DIR")

    def _pidfile(self, name: str) -> Path:
        return self.state_dir / name / "pid"

    def _pid(self, name: str) -> int | None:
        try:
            pid_s, start = self._pidfile(name).read_text().split()
            pid = int(pid_s)
        except (OSError, ValueError):
            return None
        if _proc_start_time(pid) != start:
            return None
        return pid

    def _clear_pid(self, name: str) -> None:
        with contextlib.suppress(OSError):
            self._pidfile(name).unlink()
        child = self._children.pop(name, None)
        if child is not None:
            with contextlib.suppress(Exception):
                child.wait(timeout=0)

    def _wait_exit(self, name: str, bound: float) -> bool:
        pid = self._pidfile(name).exists() and self._pid(name)
        if not pid:
            return True
        child = self._children.get(name)
        end = time.monotonic() + bound
        while time.monotonic() < end:
            if child is not None:
                with contextlib.suppress(Exception):
                    child.poll()
            if _proc_start_time(pid) is None:
                return True
            time.sleep(0.05)
        return False

    def _spawn(self, name: str, argv: list[str], logfile: Path, cwd: Path,
               user: tuple[int, int] | None = None, env: dict | None = None) -> None:
        logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(logfile, "ab") as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} "
                      f"stack.py starts: {' '.join(argv)}\n".encode())
            log.flush()
            kw = {}
            if user:
                kw = {"user": user[0], "group": user[1], "extra_groups": []}
            proc = subprocess.Popen(argv, cwd=str(cwd), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=log, start_new_session=True, env=env, close_fds=True,
                                    **kw)
        start = None
        for _ in range(100):
            start = _proc_start_time(proc.pid)
            if start:
                break
            time.sleep(0.01)
        if start is None:
            raise StackError(f"{name}: exited at once:\n{_tail(logfile)}")
        self._pidfile(name).write_text(f"{proc.pid} {start}\n")
        self._children[name] = proc

    def _prepare_and_spawn(self, names: list[str]) -> None:
        errors: list[BaseException] = []
        heavy = [n for n in names if n == "postgres" or n in KAFKAS]
        threads = []

        def run(n):
            try:
                self._start_one(n)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        for n in heavy:
            t = threading.Thread(target=run, args=(n,), daemon=True)
            t.start()
            threads.append(t)
        # Redis nodes before Sentinels: a Sentinel monitors whichever node is master now.
        for n in names:
            if n not in heavy:
                run(n)
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def _start_one(self, name: str) -> None:
        if name == "postgres":
            self._start_postgres()
        elif name in REDIS_NODES + TLS_REDIS_NODES:
            self._start_redis(name)
        elif name in SENTINELS + TLS_SENTINELS:
            self._start_sentinel(name)
        else:
            self._start_kafka(name)

    # -- postgres

    def _start_postgres(self) -> None:
        pg_bin = _which_pg_bin()
        if not pg_bin:
            raise StackError("PostgreSQL server binaries not found: "
                             "run `python3 deploy/local/stack.py install`")
        d = self.state_dir / "postgres"
        d.mkdir(parents=True, exist_ok=True)
        user = _ensure_pg_os_user()
        data = self._pg_data_dir(user)
        if user:
            os.chown(d, *user)
        log = d / "postgres.log"
        if user and log.exists():
            os.chown(log, *user)
        if not ((d / "initialized").exists() and (data / "PG_VERSION").exists()):
            if data.exists():
                shutil.rmtree(data)
            pwfile = data.parent / "pwfile"  # read by initdb as PostgreSQL's user
            pwfile.write_text(PG_PASSWORD + "\n")
            if user:
                os.chown(pwfile, *user)
            run_kw = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
            try:
                r = subprocess.run([str(pg_bin / "initdb"), "-D", str(data), "-U", PG_USER,
                                    f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8",
                                    "--locale=C.UTF-8", "--no-sync"],
                                   cwd=str(d), capture_output=True, text=True, **run_kw)
            finally:
                pwfile.unlink()
            if r.returncode != 0:
                raise StackError(f"postgres: initdb failed:\n{r.stdout}{r.stderr}")
            with open(data / "postgresql.conf", "a") as f:
                f.write("\n# ---- written by deploy/local/stack.py (test speed, TCP only)\n"
                        "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                        "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                        "shared_buffers = 32MB\nmax_connections = 200\nmax_wal_size = 256MB\n"
                        "logging_collector = off\nlog_min_messages = warning\n")
            r = subprocess.run([str(pg_bin / "postgres"), "--single", "-D", str(data),
                                "-c", "fsync=off", "postgres"],
                               input=f"CREATE DATABASE {PG_DB} OWNER {PG_USER};\n", cwd=str(d),
                               capture_output=True, text=True, **run_kw)
            if r.returncode != 0 or "ERROR" in r.stdout + r.stderr:
                raise StackError(f"postgres: CREATE DATABASE failed:\n{r.stdout}{r.stderr}")
            (d / "initialized").write_text("ok\n")
        self._spawn("postgres",
                    [str(pg_bin / "postgres"), "-D", str(data), "-p", str(self.ports["postgres"])],
                    log, d, user=user)

    def _pg_outside_dir(self) -> Path:
        return Path("/var/tmp") / ("snaproom-pg-" + uuid.uuid5(uuid.NAMESPACE_URL,
                                                                str(self.state_dir)).hex[:12])

    def _pg_data_dir(self, user: tuple[int, int] | None) -> Path:
        """<state>/postgres/data; but when PostgreSQL's OS user cannot enter the state dir (a
        checkout in a 0700 directory such as `mktemp -d`, run as root), a directory of its own
        under /var/tmp, named for the state dir. Logs and pid stay in the state dir (root
        opens them)."""
        if user is None or _traversable(self.state_dir, user[0]):
            return self.state_dir / "postgres" / "data"
        outside = self._pg_outside_dir()
        outside.mkdir(mode=0o700, exist_ok=True)
        os.chown(outside, *user)
        self._log(f"  postgres: {self.state_dir} is closed to user {PG_OS_USER!r}; "
                  f"its data lives in {outside}")
        return outside / "data"

    # -- redis

    def _current_redis_master(self, tls: bool = False) -> int | None:
        """Port of the Redis master now. Sentinels are the authority when any answers (even if
        that node is down: they will fail over, or it is being restarted); otherwise a running
        node that reports role:master; otherwise None."""
        port = self.redis_master_port(tls)
        if port is not None:
            return port
        for n in (TLS_REDIS_NODES if tls else REDIS_NODES):
            with contextlib.suppress(Exception):
                if redis_info(self.ports[n], tls_ca=self._ca(n)).get("role") == "master":
                    return self.ports[n]
        return None

    def _tls_overrides(self) -> list[tuple[str, str]]:
        d = self.ensure_tls()
        return [("tls-cert-file", str(d / "server.pem")), ("tls-key-file", str(d / "server.key")),
                ("tls-ca-cert-file", str(d / "ca.pem")), ("tls-auth-clients", "no"),
                ("tls-replication", "yes")]

    def _start_redis(self, name: str) -> None:
        """Start a Redis node from its template. Role: what the Sentinels say (the master they
        know restarts as master, the other as its replica), so an old master restarted after a
        failover comes back as a replica of the new one; with no Sentinel and no running master,
        the template's role (redis-master master, redis-replica replica of redis-master)."""
        d = self.state_dir / name
        d.mkdir(parents=True, exist_ok=True)
        port = self.ports[name]
        tls = name in TLS_REDIS_NODES
        master = self._current_redis_master(tls)
        if master is None:
            master = self.ports["redis-tls-master" if tls else "redis-master"]
        overrides = [("port", "0" if tls else str(port)), ("dir", str(d)),
                     ("pidfile", str(d / "redis.pid")), ("logfile", '""'),
                     ("replicaof", "no one" if master == port else f"127.0.0.1 {master}")]
        if tls:  # TLS only: clients, the replica's link and the Sentinels all use tls-port
            overrides += [("tls-port", str(port)), *self._tls_overrides()]
        template = name.replace("redis-tls-", "redis-")
        tpl = (DEPLOY / "redis" / f"{template}.conf").read_text()
        conf = d / "redis.conf"
        conf.write_text(_apply_overrides(tpl, overrides))
        self._spawn(name, [shutil.which("redis-server") or "redis-server", str(conf)],
                    d / f"{name}.log", d)

    def _start_sentinel(self, name: str) -> None:
        exe = shutil.which("redis-sentinel")
        argv = [exe] if exe else [shutil.which("redis-server") or "redis-server"]
        d = self.state_dir / name
        d.mkdir(parents=True, exist_ok=True)
        conf = d / "sentinel.conf"
        myid = None
        if conf.exists():  # keep the Sentinel's identity across restarts
            for line in conf.read_text().splitlines():
                if line.startswith("sentinel myid "):
                    myid = line.split()[2]
        tls = name in TLS_SENTINELS
        master_name = TLS_SENTINEL_MASTER if tls else SENTINEL_MASTER
        master = self._current_redis_master(tls) or self.ports[
            "redis-tls-master" if tls else "redis-master"]
        overrides = [("port", "0" if tls else str(self.ports[name])), ("dir", str(d)),
                     ("pidfile", str(d / "sentinel.pid")), ("logfile", '""'),
                     ("sentinel monitor", f"{master_name} 127.0.0.1 {master} 2")]
        if tls:
            overrides += [("tls-port", str(self.ports[name])), *self._tls_overrides()]
        tpl = (DEPLOY / "redis" / "sentinel.conf").read_text().replace(SENTINEL_MASTER,
                                                                        master_name)
        text = _apply_overrides(tpl, overrides)
        # `sentinel monitor` must precede the other per-master lines: move them after it.
        lines = text.splitlines()
        per_master = [ln for ln in lines
                      if ln.strip().startswith("sentinel ") and master_name in ln
                      and not ln.strip().startswith("sentinel monitor")]
        lines = [ln for ln in lines if ln not in per_master] + per_master
        if myid:
            lines.append(f"sentinel myid {myid}")
        conf.write_text("\n".join(lines) + "\n")
        self._spawn(name, argv + [str(conf)] + ([] if exe else ["--sentinel"]),
                    d / f"{name}.log", d)

    # -- kafka

    def _start_kafka(self, name: str) -> None:
        libs = fetch_kafka_libs(self.verbose)
        java = shutil.which("java")
        if not java:
            raise StackError("java not found: Kafka 4.x needs Java 17 (run `stack.py install`)")
        idx = KAFKAS.index(name) + 1
        d = self.state_dir / name
        data = d / "data"
        (d / "logs").mkdir(parents=True, exist_ok=True)
        voters = ",".join(f"{i + 1}@127.0.0.1:{self.controller_ports[k]}"
                          for i, k in enumerate(KAFKAS))
        port, cport = self.ports[name], self.controller_ports[name]
        sport = self.secure_ports[name]
        tls = self.ensure_tls()
        secure = "listener.name.secure."
        overrides = [("node.id", str(idx)), ("controller.quorum.voters", voters),
                     ("listeners", f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport},"
                                   f"SECURE://127.0.0.1:{sport}"),
                     ("advertised.listeners",
                      f"PLAINTEXT://127.0.0.1:{port},SECURE://127.0.0.1:{sport}"),
                     ("listener.security.protocol.map",
                      "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_SSL"),
                     ("sasl.enabled.mechanisms", "SCRAM-SHA-512"),
                     (secure + "scram-sha-512.sasl.jaas.config",
                      "org.apache.kafka.common.security.scram.ScramLoginModule required;"),
                     (secure + "ssl.keystore.type", "PEM"),
                     (secure + "ssl.keystore.location", str(tls / "server-bundle.pem")),
                     ("authorizer.class.name",
                      "org.apache.kafka.metadata.authorizer.StandardAuthorizer"),
                     ("super.users", "User:ANONYMOUS;User:admin"),
                     ("log.dirs", str(data))]
        props = d / "server.properties"
        props.write_text(_apply_overrides((DEPLOY / "kafka" / "server.properties").read_text(),
                                          overrides, sep="="))
        cp = f"{libs}/*"
        common = ["-Djava.awt.headless=true",
                  f"-Dlog4j2.configurationFile={DEPLOY / 'kafka' / 'log4j2.yaml'}",
                  f"-Dkafka.logs.dir={d / 'logs'}", "-cp", cp]
        # C1 only: with C2 the three brokers spent 10-25 % of a core compiling for the first
        # half hour after every start (the span of a test run or a benchmark on 2 cores), and
        # their CPU at 1,000 events/s swung from 42 to 109 %; with C1 it stays at 53-63 %.
        # Production brokers (compose.yaml) keep the JVM's defaults.
        jvm = [java, "-Xms256m", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseParallelGC",
               *common]
        if not (data / "meta.properties").exists():
            cluster_id = self._read_meta()["kafka_cluster_id"]
            # A short-lived tool: C1 only and serial GC start faster on 2 cores.
            tool = [java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", *common]
            # `--cluster-id=`: a base64url id starts with "-" one time in 64, and as a separate
            # argument the tool's parser then takes it for an option and refuses to format.
            r = subprocess.run(tool + ["kafka.tools.StorageTool", "format",
                                       f"--cluster-id={cluster_id}", "-c", str(props),
                                       "--ignore-formatted"],
                               capture_output=True, text=True, cwd=str(d))
            if r.returncode != 0:
                raise StackError(f"{name}: kafka storage format failed:\n"
                                 f"{r.stdout[-2000:]}{r.stderr[-2000:]}")
        self._spawn(name, jvm + ["kafka.Kafka", str(props)], d / "logs" / "stdout.log", d)

    # -- readiness

    def _ready(self, name: str) -> bool:
        port = self.ports[name]
        if name == "postgres":
            return self._pg_ready()
        ca = self._ca(name)
        if name in REDIS_NODES + TLS_REDIS_NODES:
            if redis_cmd(port, "PING", tls_ca=ca) != "PONG":
                return False
            info = redis_info(port, tls_ca=ca)
            if info.get("role") == "master":
                return True
            mport = int(info.get("master_port", 0))
            master_up = mport and _tcp_open(mport)
            return info.get("master_link_status") == "up" or not master_up
        if name in SENTINELS + TLS_SENTINELS:
            nodes, group = ((TLS_REDIS_NODES, TLS_SENTINELS) if ca else (REDIS_NODES, SENTINELS))
            master_name = TLS_SENTINEL_MASTER if ca else SENTINEL_MASTER
            m = _pairs(redis_cmd(port, "SENTINEL", "master", master_name, password=None,
                                 tls_ca=ca))
            if m.get("flags") != "master":
                return False
            want_replicas = sum(1 for n in nodes if self.is_running(n)) - 1
            want_sentinels = sum(1 for n in group if self.is_running(n)) - 1
            reps = [_pairs(r) for r in redis_cmd(port, "SENTINEL", "replicas", master_name,
                                                 password=None, tls_ca=ca)]
            sens = [_pairs(r) for r in redis_cmd(port, "SENTINEL", "sentinels", master_name,
                                                 password=None, tls_ca=ca)]
            ok_reps = sum(1 for r in reps
                          if r.get("flags") == "slave" and r.get("master-link-status") == "ok")
            ok_sens = sum(1 for s in sens if s.get("flags") == "sentinel")
            return ok_reps >= want_replicas and ok_sens >= want_sentinels
        if name in KAFKAS:
            md = kafka_metadata(port, timeout=1.0)
            want = {self.ports[k] for k in KAFKAS if self.is_running(k)}
            return {p for _, _, p in md["brokers"]} >= want and md["controller_id"] >= 0
        return False

    def _pg_ready(self) -> bool:
        """A startup packet with the password: ready when SCRAM auth succeeds (ReadyForQuery)."""
        psql = shutil.which("psql")
        if psql:
            env = dict(os.environ, PGPASSWORD=PG_PASSWORD, PGCONNECT_TIMEOUT="2")
            r = subprocess.run([psql, "-h", "127.0.0.1", "-p", str(self.ports["postgres"]),
                                "-U", PG_USER, "-d", PG_DB, "-tAc", "select 1"],
                               env=env, capture_output=True, text=True, timeout=10)
            return r.returncode == 0 and r.stdout.strip() == "1"
        return _tcp_open(self.ports["postgres"])

    def _wait_ready(self, names: list[str], started: list[str], t0: float, timeout: float) -> None:
        pending = list(names)
        deadline = t0 + timeout
        last_err: dict[str, str] = {}
        while pending:
            for n in list(pending):
                if not self.is_running(n):
                    raise StackError(f"{n}: process exited while starting. "
                                     f"Last lines of {self.log_path(n)}:\n"
                                     f"{self._failure_tail(n)}")
                try:
                    ok = self._ready(n)
                except Exception as e:  # noqa: BLE001
                    ok, last_err[n] = False, f"{type(e).__name__}: {e}"
                if ok:
                    pending.remove(n)
                    how = "started" if n in started else "already running"
                    self._log(f"  {n:<14} ready    port {self.ports[n]:<6} pid {self._pid(n):<8} "
                              f"{how}, {time.monotonic() - t0:5.1f}s")
            if not pending:
                break
            if time.monotonic() > deadline:
                n = pending[0]
                raise StackError(f"not ready after {timeout:.0f}s: {', '.join(pending)} "
                                 f"(last probe error for {n}: {last_err.get(n, 'none')}). "
                                 f"Last lines of {self.log_path(n)}:\n{self._failure_tail(n)}")
            time.sleep(0.25)

    def _failure_tail(self, n: str) -> str:
        out = _tail(self.log_path(n))
        if n in KAFKAS:
            out += (f"\n--- {self.state_dir / n / 'logs' / 'stdout.log'}:\n"
                    + _tail(self.state_dir / n / "logs" / "stdout.log", 15))
        return out


# --------------------------------------------------------------------------- install


# The command each Debian package provides: installed only when the command is missing.
# docker-compose is not a server: the test suite validates compose.yaml with it, offline.
PACKAGES_BY_COMMAND = {
    "psql": "postgresql-client",
    "redis-server": "redis-server",
    "redis-sentinel": "redis-sentinel",
    "redis-cli": "redis-tools",
    "java": "openjdk-17-jre-headless",
    "mvn": "maven",
    "docker-compose": "docker-compose",
    "kcat": "kcat",  # tests read every topic, keys and headers, with a real consumer
    "openssl": "openssl",  # the TLS listeners' CA and certificates
    "promtool": "prometheus",  # checks the monitoring profile's rules (tests/unit)
}


def install(verbose: bool = True) -> None:
    """apt-get install the packages whose commands are missing, then fetch Kafka's jars."""
    want = [] if _which_pg_bin() else ["postgresql"]
    want += [pkg for cmd, pkg in PACKAGES_BY_COMMAND.items() if not shutil.which(cmd)]
    if want:
        if os.geteuid() != 0:
            raise StackError(f"missing packages {' '.join(want)}: "
                             f"run this as root or apt-get install them")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "--no-install-recommends", *want]
        print("+", " ".join(cmd), flush=True)
        if subprocess.run(cmd, env=env).returncode != 0:
            print("+ apt-get update", flush=True)
            subprocess.run(["apt-get", "update"], env=env, check=True)
            subprocess.run(cmd, env=env, check=True)
    elif verbose:
        print("postgres, redis, java, maven and docker-compose present", flush=True)
    libs = fetch_kafka_libs(verbose)
    if verbose:
        print(f"Kafka {KAFKA_VERSION} jars in {libs}", flush=True)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    names_help = (f"services or groups (default: all): {', '.join(SERVICES)}; "
                  f"groups: {', '.join(GROUPS)}")
    ap = argparse.ArgumentParser(
        prog="stack.py",
        description="Real PostgreSQL, Redis (master, replica, 3 Sentinels) and a 3-node Kafka "
                    "KRaft cluster on 127.0.0.1 for snaproom-gateway tests, from local binaries. "
                    "State dir: $SNAPROOM_STACK_DIR "
                    "or <repo>/.stack; ports shifted by $SNAPROOM_STACK_PORT_OFFSET.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up",
                       help="start the services that are not running and wait until all named "
                            "are ready",
                       description="Start what is not running (idempotent) and wait until every "
                                   "named service is ready; fails with the tail of the failing log "
                                   "after --timeout seconds.")
    p.add_argument("names", nargs="*", help=names_help)
    p.add_argument("--timeout", type=float, default=DEFAULT_UP_TIMEOUT,
                   help="seconds (default %(default)s)")
    p = sub.add_parser("down",
                       help="stop services this stack started (SIGTERM, then SIGKILL after a "
                            "bound)",
                       description="Stop the named services (default all). Only PIDs recorded in "
                                   "the state dir are signalled.")
    p.add_argument("names", nargs="*", help=names_help)
    p = sub.add_parser("status", help="show each service: pid, port, running, ready")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("env", help="print `export` lines for the app "
                                   "(DATABASE_URL, REDIS_*, KAFKA_BROKERS, ...)")
    p.add_argument("--tls", action="store_true",
                   help="Redis through the TLS group (redis-tls: its Sentinels, REDIS_SSL)")
    sub.add_parser("install", help="apt-get install missing postgres/redis/java/maven packages; "
                                   "fetch Kafka jars")
    sub.add_parser("reset", help="stop everything, then delete the state dir")
    args = ap.parse_args(argv)

    try:
        if args.cmd == "install":
            install()
            return 0
        st = Stack()
        if args.cmd == "up":
            print(f"stack in {st.state_dir} (port offset {st.port_offset})", flush=True)
            t0 = time.monotonic()
            st.up(*args.names, timeout=args.timeout)
            print(f"up in {time.monotonic() - t0:.1f}s", flush=True)
        elif args.cmd == "down":
            st.down(*args.names)
        elif args.cmd == "status":
            rows = st.status()
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                for r in rows:
                    state = "ready" if r["ready"] else ("running" if r["running"] else "stopped")
                    print(f"{r['name']:<17} {state:<8} port {r['port']:<6} pid {r['pid'] or '-'}")
        elif args.cmd == "env":
            for k, v in (st.tls_env() if args.tls else st.env()).items():
                print(f"export {k}={v}")
        elif args.cmd == "reset":
            st.reset()
            print(f"removed {st.state_dir}")
    except StackError as e:
        print(f"stack.py: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
