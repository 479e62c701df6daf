"""A PostgreSQL server for the tests, and a new database on it for each test.

The server is CASEDESK_TEST_POSTGRES_URL when that is set (a URL whose user may create databases), else a
throwaway cluster of Debian's PostgreSQL (the `postgresql` package, which scripts/test installs) in a
temporary folder, in memory where there is /dev/shm: on 127.0.0.1 and an OS-chosen free port, trust
authentication (it listens on loopback only), no fsync, stopped and deleted when the session ends.
PostgreSQL refuses to run as root: as root, the cluster runs as Debian's `postgres` system user. A
machine without PostgreSQL fails the tests that need it, with what to install; they never skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from harness.servers import free_port

URL_VARIABLE = "CASEDESK_TEST_POSTGRES_URL"
DEBIAN = Path("/usr/lib/postgresql")  # VERSION/bin/{initdb,pg_ctl,postgres}
# Nothing to keep, so nothing synced; a server in local time (as operators' often are): the store hands out
# UTC all the same.
SETTINGS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c TimeZone=America/New_York"
MEMORY = Path("/dev/shm")


class NoPostgres(RuntimeError):
    """No PostgreSQL server can be had for the tests; the message says why and what to do."""


def given_server(environ: Mapping[str, str]) -> sa.URL | None:
    """The server named by CASEDESK_TEST_POSTGRES_URL, if any."""
    text = environ.get(URL_VARIABLE)
    if not text:
        return None
    url = sa.make_url(text)
    if url.get_backend_name() != "postgresql":
        raise NoPostgres(f"{URL_VARIABLE}: expected a postgresql:// URL, got {url.render_as_string()}")
    return url


def binaries() -> Path:
    """The folder of the newest PostgreSQL server that Debian's packages installed."""
    found = [path.parent for path in DEBIAN.glob("*/bin/postgres") if path.parent.parent.name.isdigit()]
    if not found:
        raise NoPostgres(f"PostgreSQL is not installed (no {DEBIAN}/VERSION/bin/postgres); scripts/test installs"
                         f" it, or as root: apt-get install postgresql. Or set {URL_VARIABLE} to a server's URL")
    return max(found, key=lambda path: int(path.parent.name))


@contextlib.contextmanager
def cluster(bin_dir: Path, durable: bool = False) -> Iterator[sa.URL]:
    """Start a throwaway cluster; yields its superuser's URL (database ``postgres``). ``durable``: on disk
    with PostgreSQL's own settings (fsync, synchronous commits), as an operator runs it (bench/store.py)."""
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise NoPostgres("PostgreSQL refuses to run as root, and there is no `postgres` user to run it as"
                             " (Debian's postgresql package makes one)") from None
        run_as = ["runuser", "-u", "postgres", "--"]
    # In memory where there is /dev/shm: a test's database is made there in some 15 ms, on disk in 300.
    in_memory = MEMORY.is_dir() and not durable
    folder = Path(tempfile.mkdtemp(prefix="casedesk-postgres-", dir=MEMORY if in_memory else None))
    data, log = folder / "data", folder / "server.log"

    def run(*args: str) -> None:
        done = subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            told = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise NoPostgres(f"{Path(args[0]).name} failed ({done.returncode}):\n{done.stdout}{done.stderr}{told}")

    try:
        if run_as:
            shutil.chown(folder, "postgres", "postgres")
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
            "--locale=C", "--no-sync")
        port = free_port()
        run(str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", f"-h 127.0.0.1 -p {port} -k {folder} {'' if durable else SETTINGS}")
        try:
            yield sa.URL.create("postgresql", username="postgres", host="127.0.0.1", port=port, database="postgres")
        finally:
            run(str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "60")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def database(server: sa.URL) -> Iterator[str]:
    """A new, empty database on ``server``, dropped afterwards; yields its URL as the app takes it
    (``postgresql+asyncpg://``)."""
    name = f"casedesk_test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT",
                             poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
