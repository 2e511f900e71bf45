#!/usr/bin/env python3
"""Run a command against a throwaway PostgreSQL server.

    python3 tools/with_postgres.py -- pytest -q

Starts a fresh cluster (``initdb`` into a temporary directory, ``pg_ctl`` on a free
port of 127.0.0.1, the unix socket inside the same directory, durability switched
off for speed), creates the role and database ``civicloop``, runs the command with

    DATABASE_URL=postgres://civicloop@127.0.0.1:PORT/civicloop
    CIVICLOOP_TEST_DB=postgres
    CIVICLOOP_TEST_PG_MAJOR=15          (the server's major version)

then stops the server and deletes the directory, also when the command fails or is
interrupted, and exits with the command's exit code.

The role is an ordinary login role with CREATEDB (pytest-django creates its test
database with it), not a superuser, as in production.

PostgreSQL refuses to run as root: as root, the server programs run as the
``postgres`` system user (installed by Debian's postgresql package), which owns the
temporary directory. As anyone else they run as that user.

Binaries: ``$PG_BINDIR`` if set, else ``pg_config --bindir``, else the newest
``/usr/lib/postgresql/*/bin``. Missing binaries are an error, never a skip.

Only the standard library: this runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

ROLE = "civicloop"
DATABASE = "civicloop"
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres", "psql")
# Throwaway data: durability buys nothing here and costs most of the run time.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}


class PostgresNotFound(Exception):
    pass


def log(message: str) -> None:
    print(f"with_postgres: {message}", file=sys.stderr, flush=True)


def has_server_programs(bindir: Path) -> bool:
    return all(
        (bindir / name).is_file() and os.access(bindir / name, os.X_OK) for name in SERVER_PROGRAMS
    )


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres."""
    tried: list[str] = []
    explicit = os.environ.get("PG_BINDIR")
    if explicit:
        if has_server_programs(Path(explicit)):
            return Path(explicit)
        raise PostgresNotFound(f"PG_BINDIR={explicit} does not hold {', '.join(SERVER_PROGRAMS)}")
    pg_config = shutil.which("pg_config")
    if pg_config:
        # pg_config may come from libpq-dev alone, naming a bindir with no server in it.
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip():
            bindir = Path(result.stdout.strip())
            if has_server_programs(bindir):
                return bindir
            tried.append(f"{bindir} (from pg_config --bindir)")
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
        reverse=True,
    )
    for bindir in candidates:
        if has_server_programs(bindir):
            return bindir
        tried.append(str(bindir))
    tried.append("/usr/lib/postgresql/*/bin")
    raise PostgresNotFound(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; looked in: "
        + ", ".join(tried)
        + ". Install them (Debian: apt-get install postgresql-15) or set PG_BINDIR."
    )


def server_major(bindir: Path) -> str:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"\) (\d+)", out)
    if not match:
        raise RuntimeError(f"cannot read the server version from {out!r}")
    return match.group(1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerUser:
    """Runs the server programs as the current user, or as ``postgres`` when root."""

    def __init__(self) -> None:
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                self.account = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresNotFound(
                    "running as root, and PostgreSQL refuses to run as root, but there is no "
                    "'postgres' system user to run it as (Debian's postgresql package creates it)"
                ) from None
        else:
            self.account = pwd.getpwuid(os.geteuid())

    @property
    def name(self) -> str:
        return self.account.pw_name

    def own(self, path: Path) -> None:
        if self.as_root:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def run(
        self, args: Sequence[str], *, cwd: Path, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.account.pw_dir,
            "USER": self.name,
            "LOGNAME": self.name,
            # Whatever locale the caller has may not exist on the machine; the cluster uses C.
            "LC_ALL": "C",
        }
        if self.as_root:
            # Same as runuser -u postgres, without depending on util-linux.
            kwargs.update(user=self.account.pw_uid, group=self.account.pw_gid, extra_groups=[])
        return subprocess.run(
            list(args), cwd=cwd, env=env, capture_output=True, text=True, check=check, **kwargs
        )


class Cluster:
    def __init__(self, bindir: Path, user: ServerUser) -> None:
        self.bindir = bindir
        self.user = user
        self.root = Path(tempfile.mkdtemp(prefix="civicloop-pg-"))
        user.own(self.root)
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self.port = 0
        self.started = False

    def program(self, name: str) -> str:
        return str(self.bindir / name)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return self.user.run(args, cwd=self.root)
        except subprocess.CalledProcessError as error:
            raise RuntimeError(
                f"{' '.join(args)} failed with exit code {error.returncode}:\n{error.stdout}{error.stderr}"
                + self.log_tail()
            ) from None

    def log_tail(self) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()[-30:]
        except OSError:
            return ""
        return "\n--- server.log (last lines) ---\n" + "\n".join(lines)

    def init(self) -> None:
        self.run(
            self.program("initdb"),
            f"--pgdata={self.data}",
            "--username=postgres",
            "--auth=trust",  # loopback and socket only, on a cluster that lives for one run
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        settings = dict(SERVER_SETTINGS, unix_socket_directories=f"'{self.root}'")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# with_postgres.py: a throwaway test cluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self) -> None:
        # A free port can be taken between the probe and the bind; try a few.
        for attempt in range(5):
            self.port = free_port()
            result = self.user.run(
                [
                    self.program("pg_ctl"),
                    "start",
                    "--wait",
                    "--timeout=60",
                    f"--pgdata={self.data}",
                    f"--log={self.logfile}",
                    f"--options=-p {self.port}",
                ],
                cwd=self.root,
                check=False,
            )
            if result.returncode == 0:
                self.started = True
                return
            if "could not bind" not in self.log_tail() or attempt == 4:
                raise RuntimeError(
                    f"pg_ctl start failed with exit code {result.returncode}:\n"
                    f"{result.stdout}{result.stderr}{self.log_tail()}"
                )

    def create_database(self) -> None:
        psql = [
            self.program("psql"),
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            f"--host={self.root}",
            f"--port={self.port}",
            "--username=postgres",
            "--dbname=postgres",
        ]
        self.run(*psql, "-c", f"CREATE ROLE {ROLE} LOGIN CREATEDB")
        self.run(*psql, "-c", f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def stop(self) -> None:
        if self.started:
            for mode in ("fast", "immediate"):
                result = self.user.run(
                    [
                        self.program("pg_ctl"),
                        "stop",
                        f"--pgdata={self.data}",
                        f"--mode={mode}",
                        "--wait",
                        "--timeout=30",
                    ],
                    cwd=self.root,
                    check=False,
                )
                if result.returncode == 0:
                    break
            else:
                log(f"could not stop the server: {result.stdout}{result.stderr}")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


def run_command(command: list[str], env: dict[str, str]) -> int:
    """Run the command in the foreground; pass on termination signals; return its exit code."""
    try:
        child = subprocess.Popen(command, env=env)
    except OSError as error:
        log(f"cannot run {command[0]}: {error}")
        return 127

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {
        sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        returncode = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # A command killed by signal N reports -N; a shell reports 128+N.
    return 128 - returncode if returncode < 0 else returncode


def interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run a command against a throwaway PostgreSQL server.",
        usage="%(prog)s [-h] -- COMMAND [ARG ...]",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    try:
        bindir = find_bindir()
        user = ServerUser()
        major = server_major(bindir)
    except PostgresNotFound as error:
        log(f"ERROR: {error}")
        return 2

    # Being stopped while the server starts must still remove it (the command, once
    # running, gets these signals passed on instead: see run_command).
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    cluster = Cluster(bindir, user)
    try:
        cluster.init()
        cluster.start()
        cluster.create_database()
        url = f"postgres://{ROLE}@127.0.0.1:{cluster.port}/{DATABASE}"
        log(f"PostgreSQL {major} from {bindir} as {user.name}, at {url} (data in {cluster.root})")
        env = dict(
            os.environ,
            DATABASE_URL=url,
            CIVICLOOP_TEST_DB="postgres",
            CIVICLOOP_TEST_PG_MAJOR=major,
        )
        return run_command(command, env)
    except RuntimeError as error:
        log(f"ERROR: {error}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
