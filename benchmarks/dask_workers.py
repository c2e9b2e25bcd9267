"""Wall time of conf/cluster's all-datasets job on a Dask cluster of 1 and of 2 workers (docs/dagster.md).

    python benchmarks/dask_workers.py            # writes benchmarks/results/dask_workers.json

The job of tests/orchestration/test_cluster.py: synthetic plus the AwA2 stand-in (the real split files of
../shared/data, 8-dimensional simulated features), the SCC shrunk to the tests' TINY_SCC, on an MLflow
server over PostgreSQL (SQLite where PostgreSQL cannot run), the data root in a temporary folder. For each
worker count a fresh LocalCluster (1 thread per worker) runs the job twice: ``cold`` (each worker imports
the project on its first step) and ``warm``. The machine's 1-minute load average is recorded beside each
time: on a shared machine, compare runs made under the same load only. Every service it starts is
stopped at the end, and the temporary folder removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.orchestration.services import (  # noqa: E402
    mlflow_server,
    postgres_database,
    stop_process_group,
    why_no_postgres,
)
from tests.orchestration.test_cluster import (  # noqa: E402
    DAGSTER,
    JOB,
    SCHEDULER_SETTINGS,
    launch_environment,
    raw_standin,
    scratch_project,
)

OUTPUT = ROOT / "benchmarks" / "results" / "dask_workers.json"
RUNS = ("cold", "warm")


def run_job(project: Path, environment: dict, dagster_home: Path) -> float:
    """One ``dagster job execute`` of the all-datasets job; its wall time in seconds."""
    log = dagster_home / f"launch-{time.monotonic_ns()}.log"
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(
            [DAGSTER, "job", "execute", "-m", "fsigenz.definitions", "-a", "defs", "-j", JOB],
            cwd=project,
            env={**os.environ, **environment},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=1800)
        finally:
            if process.poll() is None:
                stop_process_group(process, grace=5)
    seconds = time.perf_counter() - started
    if returncode:
        raise SystemExit(f"{JOB} failed ({log}):\n{log.read_text()[-3000:]}")
    return seconds


def measure(workers: int, project: Path, tracking_uri: str, folder: Path) -> dict:
    """A fresh LocalCluster of ``workers`` worker processes runs the job cold, then warm."""
    import dask
    from dask.distributed import LocalCluster

    shared, dagster_home = folder / f"data_{workers}", folder / f"dagster_{workers}"
    dagster_home.mkdir()
    environment = launch_environment(tracking_uri, shared, dagster_home)
    previous = Path.cwd()
    os.chdir(project)  # the workers load the project from their working directory
    try:
        with (
            dask.config.set(SCHEDULER_SETTINGS),
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
                env=environment,
            ) as cluster,
        ):
            environment["DASK_SCHEDULER_ADDRESS"] = cluster.scheduler_address
            result: dict = {"workers": workers}
            for run in RUNS:
                load_before = os.getloadavg()[0]
                result[f"{run}_seconds"] = round(run_job(project, environment, dagster_home), 1)
                result[f"{run}_load_average"] = round((load_before + os.getloadavg()[0]) / 2, 1)
                print(
                    f"{workers} worker(s), {run}: {result[f'{run}_seconds']} s "
                    f"(1-min load average {result[f'{run}_load_average']})",
                    flush=True,
                )
            return result
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def backend_store(folder: Path):
    """PostgreSQL where it can run here, else SQLite (the test's choice); yields (URI, name)."""
    if why_no_postgres() is None:
        with postgres_database() as url:
            yield url, "postgresql"
    else:
        yield f"sqlite:///{folder / 'mlflow.db'}", "sqlite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    for key, value in {"KEDRO_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1"}.items():
        os.environ.setdefault(key, value)
    folder = Path(tempfile.mkdtemp(prefix="fsigenz-dask-workers-"))
    try:
        raw = raw_standin(folder / "raw")
        project = scratch_project(folder / "project", raw, "cluster")
        with backend_store(folder) as (backend, backend_name), mlflow_server(backend, folder) as tracking_uri:
            results = [measure(workers, project, tracking_uri, folder) for workers in (1, 2)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    summary = {
        "job": JOB,
        "datasets": ["synthetic", raw[0]],
        "mlflow_backend": backend_name,
        "cpu_count": os.cpu_count(),
        "runs": results,
        "ratio_1_over_2_workers": {
            run: round(results[0][f"{run}_seconds"] / results[1][f"{run}_seconds"], 2) for run in RUNS
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
