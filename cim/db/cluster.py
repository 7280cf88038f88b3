"""The project-local PostgreSQL/PostGIS cluster (``cim db start|stop|status|url``).

The cluster lives under the CIM home (``cim.config.default_home``), listens on a unix
socket in that folder and on a free loopback port, and trusts local connections only: it is a
development and test database, not a production server. initdb refuses to run as root, so
when invoked as root every server command runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cim.errors import DatabaseError

SUPERUSER = "postgres"


def _pg_bindir() -> Path:
    env = os.environ.get("CIM_PG_BINDIR")
    if env:
        return Path(env)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise DatabaseError("PostgreSQL server binaries not found (install postgresql-15 and "
                        "postgresql-15-postgis-3, or run `make demo`), or set CIM_DATABASE_URL")


def _postgres_can_reach(home: Path) -> bool:
    """Can the postgres system user traverse to ``home`` (its nearest existing folder)?"""
    probe = home
    while not probe.exists():
        probe = probe.parent
    try:
        return subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(probe)],
                              capture_output=True).returncode == 0
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    """Whether the server could listen on ``port``: bound as PostgreSQL binds it
    (``SO_REUSEADDR``), so that connections of its last run left in TIME-WAIT do not count —
    they had the cluster move to another port on each restart, leaving .cim/pg_service.conf
    (the QGIS project's connection) on the old one. A listener on it still counts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Cluster:
    home: Path

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        if os.geteuid() == 0 and not _postgres_can_reach(self.home):
            # e.g. a clone under /root (mode 700): the server, run as postgres, could not
            # reach its data directory there, so it lives in /var/tmp, keyed by the project
            key = hashlib.sha1(str(self.home).encode()).hexdigest()[:10]
            self.home = Path("/var/tmp") / f"cim-cluster-{key}"

    @property
    def datadir(self) -> Path:
        return self.home / "pgdata"

    @property
    def sockdir(self) -> Path:
        return self.home / "run"

    @property
    def logfile(self) -> Path:
        return self.home / "postgres.log"

    @property
    def portfile(self) -> Path:
        return self.home / "port"

    # -- running commands as the right user ------------------------------------------------
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
        if self._as_root():
            args = ["runuser", "-u", "postgres", "--", *args]
        proc = subprocess.run(args, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise DatabaseError(f"{' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def _prepare_dirs(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(parents=True, exist_ok=True)
        if self._as_root():
            try:
                pg = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise DatabaseError("running as root needs the 'postgres' system user "
                                    "(install postgresql-15)") from exc
            for d in (self.home, self.sockdir):
                os.chown(d, pg.pw_uid, pg.pw_gid)
            if self.datadir.exists():
                os.chown(self.datadir, pg.pw_uid, pg.pw_gid)
            probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(self.home)])
            if probe.returncode != 0:
                raise DatabaseError(
                    f"the postgres system user cannot write {self.home}; set CIM_HOME to a folder "
                    "it can reach (for example /var/tmp/cim)")

    # -- state -----------------------------------------------------------------------------
    def port(self) -> int | None:
        try:
            return int(self.portfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        if not (self.datadir / "PG_VERSION").exists():
            return False
        proc = self._run([str(_pg_bindir() / "pg_ctl"), "status", "-D", str(self.datadir)],
                         check=False)
        return proc.returncode == 0

    def status(self) -> dict:
        return {
            "home": str(self.home),
            "initialized": (self.datadir / "PG_VERSION").exists(),
            "running": self.running(),
            "port": self.port(),
            "socket_dir": str(self.sockdir),
        }

    # -- lifecycle -------------------------------------------------------------------------
    def init(self) -> None:
        if (self.datadir / "PG_VERSION").exists():
            return
        self._prepare_dirs()
        self._run([str(_pg_bindir() / "initdb"), "-D", str(self.datadir), "-U", SUPERUSER,
                   "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"])
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# cim embedded cluster\nlisten_addresses = '127.0.0.1'\n"
                       "fsync = on\nshared_buffers = 256MB\nmaintenance_work_mem = 512MB\n"
                       "max_wal_size = 4GB\n")

    def start(self) -> int:
        self.init()
        self._prepare_dirs()
        if self.running():
            port = self.port()
            if port:
                return port
        port = self.port()
        if port is None or not _port_free(port):
            port = _free_port()
        self.portfile.write_text(str(port))
        if self._as_root():
            pg = pwd.getpwnam("postgres")
            self.logfile.touch()
            os.chown(self.logfile, pg.pw_uid, pg.pw_gid)
        self._run([str(_pg_bindir() / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.datadir),
                   "-l", str(self.logfile), "-o", f"-p {port} -k {self.sockdir}"])
        for _ in range(50):
            if not _port_free(port):
                break
            time.sleep(0.1)
        return port

    def stop(self) -> None:
        if self.running():
            self._run([str(_pg_bindir() / "pg_ctl"), "stop", "-w", "-m", "fast",
                       "-D", str(self.datadir)])

    def server_url(self, dbname: str) -> str:
        port = self.port()
        if port is None:
            raise DatabaseError("the embedded cluster has not been started (`cim db start`)")
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/{dbname}"
