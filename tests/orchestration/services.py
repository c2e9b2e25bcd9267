"""Services a cluster run needs, started on 127.0.0.1 by the test that uses them and stopped by it:
PostgreSQL (the MLflow server's backend store; SQLite behind the server where PostgreSQL cannot run here),
an MLflow tracking server serving the artifacts. Every server runs in a process group of its own, stopped
as a whole (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MLFLOW = str(Path(sys.executable).with_name("mlflow"))
POSTGRES_USER = "postgres"  # the Debian package's system user: PostgreSQL refuses to run as root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_binaries() -> Path | None:
    """The folder of initdb / pg_ctl of the newest PostgreSQL (Debian: /usr/lib/postgresql/<v>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def postgres_runner() -> list[str] | None:
    """How to run PostgreSQL's programs here: as root, through ``runuser`` as its system user; as anyone
    else, directly; None when neither works."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        return None
    return ["runuser", "-u", POSTGRES_USER, "--"] if shutil.which("runuser") else None


def why_no_postgres() -> str | None:
    """Why PostgreSQL cannot be started here, or None when it can."""
    if postgres_binaries() is None:
        return "PostgreSQL is not installed (Debian: apt-get install postgresql)"
    if postgres_runner() is None:
        return f"running as root without a '{POSTGRES_USER}' user (and runuser) to start PostgreSQL as"
    if importlib.util.find_spec("psycopg2") is None:
        return (
            "psycopg2 (pip install psycopg2-binary) is missing: the MLflow server could not reach PostgreSQL"
        )
    return None


@contextlib.contextmanager
def postgres_database(name: str = "mlflow"):
    """A throw-away PostgreSQL cluster on 127.0.0.1 holding database ``name``; yields its SQLAlchemy URL."""
    binaries, runner = postgres_binaries(), postgres_runner()
    # not under pytest's tmp folder: its parents are private to root, and the server runs as postgres
    folder = Path(tempfile.mkdtemp(prefix="fsigenz-postgres-"))
    if runner:
        user = pwd.getpwnam(POSTGRES_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
    data, port = folder / "data", free_port()

    def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*runner, *command], capture_output=True, text=True, timeout=300, start_new_session=True
        )
        if check and result.returncode:
            log = folder / "server.log"
            raise RuntimeError(
                f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
                + (log.read_text()[-2000:] if log.is_file() else "")
            )
        return result

    try:
        # a throw-away cluster: no fsync, here and in the server
        run(
            str(binaries / "initdb"),
            "-D",
            str(data),
            "--auth=trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "300",
            "-o", options, "start")  # fmt: skip
        run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{name}"
    finally:
        if (data / "postmaster.pid").exists():
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} did not start (exit {process.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            if response.status == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def mlflow_server(backend_store_uri: str, folder: Path):
    """``mlflow server`` on 127.0.0.1 over ``backend_store_uri``, serving the artifacts it stores in
    ``folder/artifacts``; yields its tracking URI."""
    port, log = free_port(), folder / "mlflow-server.log"
    command = [
        MLFLOW, "server", "--backend-store-uri", backend_store_uri, "--serve-artifacts",
        "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    # without MLflow 3's job runner (GenAI scorers, prompt optimisation: 7 more processes, unused here)
    environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log.open("w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=environment, start_new_session=True
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM to the process and its children (a server and its workers), SIGKILL after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)
            return
