"""conf/cluster end to end: Dagster steps as tasks on a Dask cluster (a LocalCluster of 2 worker processes),
MLflow on an ``mlflow server`` over PostgreSQL (SQLite behind the server where PostgreSQL cannot run), the
catalog under a data root the workers share. The synthetic dataset and an AwA2 stand-in (the real split
files, simulated 8-dimensional features) run through the all-datasets job and, as a plain ``kedro run``,
beside it; a study of 4 settings runs as parallel steps and, beside it, as the sequential study runner.
Every service is started on 127.0.0.1 here and stopped here."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT, SHARED_DATA
from tests.kedro_project import KEDRO, make_project
from tests.orchestration.services import mlflow_server, postgres_database, why_no_postgres
from tests.orchestration.test_dagster import DAGSTER, mlflow_contents, without_timings
from tests.pipelines.test_kedro_runs import METRIC_KEYS, TINY_SCC

JOB = "cluster__all_datasets"
STUDY = "cluster_check"  # a study of 4 settings, defined in the scratch projects' parameters
SETTINGS = {
    "full": {},
    "without_msas": {"fsigenz.msas.enabled": False},
    "without_dpsr": {"fsigenz.dpsr.enabled": False},
    "without_both": {"fsigenz.msas.enabled": False, "fsigenz.dpsr.enabled": False},
}
STUDY_JOB = f"study__{STUDY}"
STUDY_PIPELINE = "training_synthetic"  # logs the pyfunc model, as `kedro run` of synthetic alone does
KILLED_STEP = "awa2__select_on_validation"  # the longest step of the job (about 15 s): killed while it runs
LAUNCH_TIMEOUT = 600
# The scheduler's settings for Dagster steps (docs/dagster.md): a task whose worker died fails instead of
# being started again behind Dagster's back. (worker-saturation 1.0 queues root tasks at the scheduler
# instead of handing them to workers ahead of time; a study's few settings do not count as such in Dask,
# see "Limits" in docs/dagster.md, so it changes little here.)
SCHEDULER_SETTINGS = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.scheduler.worker-saturation": 1.0,
}


def test_cluster_catalog_is_the_base_catalog_under_the_data_root():
    """conf/cluster/catalog.yml, conf/base's with the data root, has not drifted from it."""
    base = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    cluster = yaml.safe_load((PROJECT_ROOT / "conf/cluster/catalog.yml").read_text())
    rooted = json.loads(json.dumps(base).replace('"data/', '"${oc.env:FSIGENZ_DATA_ROOT,data}/'))
    assert cluster == rooted
    assert "${oc.env:FSIGENZ_DATA_ROOT,data}/06_models/{namespace}/trained_model.pkl" in json.dumps(cluster)


def test_cluster_env_runs_every_dataset_on_the_dask_executor(tmp_path, monkeypatch):
    """The job of conf/cluster is __default__ whole on dagster-dask's executor (wrapped by definitions.py),
    at the scheduler $DASK_SCHEDULER_ADDRESS names."""
    from kedro.config import OmegaConfigLoader

    from fsigenz.settings import CONFIG_LOADER_ARGS

    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.0.0.7:8786")
    monkeypatch.setenv("FSIGENZ_DATA_ROOT", "/shared/fsigenz")
    patterns = {"dagster": ["dagster*", "dagster*/**"]}
    loader = OmegaConfigLoader(
        str(PROJECT_ROOT / "conf"), env="cluster", config_patterns=patterns, **CONFIG_LOADER_ARGS
    )
    blocks = loader["dagster"]
    assert blocks["jobs"] == {
        "all_datasets": {"pipeline": {"pipeline_name": "__default__"}, "executor": "dask"}
    }
    cluster = blocks["executors"]["dask"]["dask_executor"]["cluster"]
    assert cluster == {"existing": {"address": "tcp://10.0.0.7:8786"}}
    assert (
        loader["catalog"]["{namespace}.dataset"]["filepath"]
        == "/shared/fsigenz/02_intermediate/{namespace}/dataset.pkl"
    )


def test_a_study_job_has_one_step_per_setting_then_the_report_on_the_given_executor(tmp_path):
    import dagster as dg

    from fsigenz.pipelines.studies.jobs import step_name, study_jobs

    block = {"settings": SETTINGS, "sweeps": {"fsigenz.scc.beta": [0.5]}}
    [job] = study_jobs(tmp_path, "cluster", {STUDY: block}, dg.multiprocess_executor)

    assert job.name == STUDY_JOB and job.executor_def is dg.multiprocess_executor
    settings = [*SETTINGS, "fsigenz.scc.beta=0.5"]
    steps = {f"{STUDY}__{step_name(name)}" for name in settings}
    assert f"{STUDY}__fsigenz_scc_beta_0_5" in steps
    dependencies = job.dependencies
    report = next(node for node in dependencies if node.name == f"{STUDY}__report")
    # the settings depend on nothing (they run at once), the report on every setting
    assert {node.name for node in dependencies} == {*steps, report.name}
    assert all(not dependencies[node] for node in dependencies if node.name in steps)
    assert {output.node for output in dependencies[report].values()} == steps


def raw_standin(folder: Path) -> tuple[str, Path]:
    """A small second dataset: AwA2's real split files with 8-dimensional simulated features, or (without
    ../shared/data) a small generic dataset."""
    if (SHARED_DATA / "AWA2" / "att_splits.mat").is_file():
        from fsigenz.data.xlsa17 import write_res101_standin

        target = folder / "awa2"
        shutil.copytree(SHARED_DATA / "AWA2", target)
        for path in [target, *target.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        write_res101_standin(target / "att_splits.mat", target / "res101.mat", feature_dim=8)
        return "awa2", target
    from fsigenz.data.generic import write_generic
    from fsigenz.data.synthetic import make_synthetic_benchmark

    warnings.warn(
        f"{SHARED_DATA / 'AWA2'} not found: the second dataset is a small generic one", stacklevel=1
    )
    dataset = make_synthetic_benchmark(
        n_seen_classes=12, n_unseen_classes=4, n_val_classes=4, attribute_dim=12, feature_dim=8,
        images_per_class=20, seed=3,
    )  # fmt: skip
    return "custom", write_generic(dataset, folder / "custom")


def scratch_project(path: Path, raw: tuple[str, Path] | None, env: str) -> Path:
    """A copy of the project (conf, no code) with the raw stand-in, tiny SCC settings and the 4-setting
    study in conf/<env>/parameters.yml."""
    project = make_project(path)
    parameters: dict = {"synthetic": {"fsigenz": {"scc": TINY_SCC}}}
    if raw is not None:
        namespace, folder = raw
        shutil.copytree(folder, project / "data/01_raw" / namespace)
        parameters[namespace] = {"fsigenz": {"scc": TINY_SCC}}
    parameters["studies"] = {STUDY: {"description": "4 settings, tiny", "settings": SETTINGS}}
    (project / "conf" / env / "parameters.yml").write_text(yaml.safe_dump(parameters))
    return project


@pytest.fixture(scope="module")
def raw_data(tmp_path_factory):
    return raw_standin(tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def references(tmp_path_factory, raw_data):
    """The sequential runs the cluster's are compared with, started in the background at once: `kedro run`
    of both datasets, and the study runner's 4 `kedro run`s (local environment, SQLite MLflow store)."""
    plain = scratch_project(tmp_path_factory.mktemp("kedro_run"), raw_data, "local")
    study = scratch_project(tmp_path_factory.mktemp("study_runner"), None, "local")
    environment = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1"}
    commands = {
        plain: [KEDRO, "run"],
        study: [
            sys.executable, "-m", "fsigenz.pipelines.studies.runner", STUDY, "--namespaces", "synthetic",
            "--pipeline", STUDY_PIPELINE, "--no-report", "--project-path", str(study),
        ],
    }  # fmt: skip
    processes = {}
    for project, command in commands.items():
        with (project / "run.log").open("w") as output:  # a file: a pipe could fill and stall the run
            processes[project] = subprocess.Popen(
                command, cwd=project, env=environment, stdout=output, stderr=subprocess.STDOUT, text=True,
                start_new_session=True,
            )  # fmt: skip

    def finished(project: Path) -> Path:
        returncode = processes[project].wait(timeout=LAUNCH_TIMEOUT)
        assert returncode == 0, (project / "run.log").read_text()[-3000:]
        return project

    yield {"kedro_run": lambda: finished(plain), "study": lambda: finished(study)}
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory):
    """An MLflow tracking server on 127.0.0.1 over a PostgreSQL database, else (saying why) SQLite."""
    folder = tmp_path_factory.mktemp("mlflow_server")
    reason = why_no_postgres()
    if reason is None:
        with postgres_database() as database, mlflow_server(database, folder) as uri:
            yield uri
    else:
        warnings.warn(f"MLflow server over SQLite: {reason}", stacklevel=1)
        with mlflow_server(f"sqlite:///{folder / 'mlflow.db'}", folder) as uri:
            yield uri


def launch_environment(tracking_uri: str, shared: Path, dagster_home: Path) -> dict[str, str]:
    """The variables of the workers and of `dagster job execute` in the cluster environment: the MLflow
    server, the shared data root, the Dagster instance (the scheduler's address is added once started)."""
    return {
        "KEDRO_ENV": "cluster",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "FSIGENZ_DATA_ROOT": str(shared),
        "DAGSTER_HOME": str(dagster_home),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "HF_HUB_OFFLINE": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "OMP_NUM_THREADS": "1",
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, raw_data, references, tracking_uri):
    """The project in the cluster environment, a Dask cluster of 2 worker processes started in it, and the
    environment of a launch (scheduler, MLflow server, shared data root, Dagster instance)."""
    import dask
    from dask.distributed import Client, LocalCluster

    project = scratch_project(tmp_path_factory.mktemp("cluster_project"), raw_data, "cluster")
    shared = tmp_path_factory.mktemp("shared_data")
    dagster_home = tmp_path_factory.mktemp("dagster_home")
    environment = launch_environment(tracking_uri, shared, dagster_home)
    previous = Path.cwd()
    os.chdir(project)  # the workers' working directory: they load the project from it
    try:
        with (
            dask.config.set(SCHEDULER_SETTINGS),
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                env=environment,
            ) as local_cluster,
            Client(local_cluster) as client,
        ):  # fmt: skip
            environment["DASK_SCHEDULER_ADDRESS"] = local_cluster.scheduler_address
            description = {
                "project": project, "shared": shared, "environment": environment, "client": client,
                "tracking_uri": tracking_uri, "dagster_home": dagster_home,
            }  # fmt: skip
            instance(description)  # the instance's storage, created here once
            yield description
    finally:
        for process in launched:  # a launch a failed test left running
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        os.chdir(previous)


launched: list[subprocess.Popen] = []  # every launch, stopped at the end of the module if still running


def launch(cluster: dict, job: str, config: dict | None = None) -> subprocess.Popen:
    """`dagster job execute` of ``job`` in the cluster environment, as a team launches it."""
    command = [DAGSTER, "job", "execute", "-m", "fsigenz.definitions", "-a", "defs", "-j", job]
    if config is not None:
        path = cluster["dagster_home"] / f"{job}.yml"
        path.write_text(yaml.safe_dump(config))
        command += ["-c", str(path)]
    log = cluster["dagster_home"] / f"{job}-{time.monotonic_ns()}.log"  # a file: a pipe could fill and stall
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=cluster["project"], env={**os.environ, **cluster["environment"]}, stdout=output,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
    process.log = log
    launched.append(process)
    return process


def finish(process: subprocess.Popen, timeout: float = LAUNCH_TIMEOUT) -> str:
    """Wait for a launch (killed, with its children, past ``timeout``); its output."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return process.log.read_text()


def instance(cluster: dict):
    """The Dagster instance of the launches (created once, before any launch: processes creating the
    storage of a new DAGSTER_HOME at the same time can race on its schema migrations)."""
    import dagster as dg

    if "instance" not in cluster:
        cluster["instance"] = dg.DagsterInstance.from_config(str(cluster["dagster_home"]))
    return cluster["instance"]


def newest_run(cluster: dict):
    return instance(cluster).get_runs(limit=1)[0]


def step_events(cluster: dict, run_id: str, event_type) -> dict:
    return {event.step_key: event for event in instance(cluster).all_logs(run_id, of_type=event_type)}


def worker_pids(cluster: dict) -> set[int]:
    cluster["client"].wait_for_workers(2, timeout=300)
    return set(cluster["client"].run(os.getpid).values())


def remember_kedro_mlflow_run(run_id: str) -> None:
    """On a worker: kedro-mlflow's hook as a ``before_pipeline_run`` step of run ``run_id`` leaves it."""
    from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook

    mlflow_hook.run_id = run_id


def executing(dask_worker) -> int:
    return len(dask_worker.state.executing)


def drained(cluster: dict, timeout: float = 300) -> None:
    """Wait until no worker executes a task (a failed run's steps still running elsewhere run to their end,
    even once the scheduler has released them)."""
    deadline = time.monotonic() + timeout
    while any(cluster["client"].run(executing).values()):
        assert time.monotonic() < deadline, f"tasks still running after {timeout:.0f} s"
        time.sleep(1)


def mlflow_client(cluster: dict):
    from mlflow import MlflowClient

    return MlflowClient(cluster["tracking_uri"])


def mlflow_runs(cluster: dict, filter_string: str = "") -> list:
    client = mlflow_client(cluster)
    experiment = client.get_experiment_by_name("fsigenz")
    return client.search_runs([experiment.experiment_id], filter_string) if experiment else []


def server_contents(cluster: dict, run_id: str) -> dict:
    """What the server holds for one run: parameters and metric histories, as mlflow_contents reads them."""
    client = mlflow_client(cluster)
    run = client.get_run(run_id)
    history = {
        key: sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
        for key in run.data.metrics
    }
    return {
        "params": dict(run.data.params),
        "metrics": {key: [m.value for m in values] for key, values in history.items()},
    }


@pytest.mark.slow
def test_a_worker_killed_under_a_step_fails_the_job_visibly(cluster):
    import dagster as dg

    process = launch(cluster, JOB)
    killed = None
    deadline = time.monotonic() + LAUNCH_TIMEOUT
    while killed is None and process.poll() is None and time.monotonic() < deadline:
        for run in instance(cluster).get_runs():
            started = step_events(cluster, run.run_id, dg.DagsterEventType.STEP_START)
            if KILLED_STEP in started:
                killed = started[KILLED_STEP].dagster_event.pid
                os.kill(killed, signal.SIGKILL)
                break
        time.sleep(0.2)
    output = finish(process)
    assert killed is not None, f"{KILLED_STEP} never started:\n{output[-3000:]}"

    assert process.returncode != 0, output[-3000:]
    [run] = instance(cluster).get_runs()
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert KILLED_STEP not in step_events(cluster, run.run_id, dg.DagsterEventType.STEP_SUCCESS)  # mid-step
    assert "KilledWorker" in output and KILLED_STEP in output  # the launch says which step lost its worker
    # once the steps still running elsewhere have ended, the MLflow run is closed as failed, nothing RUNNING
    drained(cluster)
    [mlflow_run] = mlflow_runs(cluster, f"tags.dagster_run_id = '{run.run_id}'")
    assert mlflow_run.info.status == "FAILED"
    assert not mlflow_runs(cluster, "attributes.status = 'RUNNING'")
    assert killed not in worker_pids(cluster)  # the nanny started a new worker in its place


@pytest.mark.slow
def test_relaunched_job_runs_every_step_on_a_worker_and_logs_what_kedro_run_logs(
    cluster, references, raw_data
):
    import dagster as dg

    # kedro-mlflow's hook in a worker that ran the first step of the killed run remembers that run; which
    # worker survives the kill is chance, so make both remember it: the relaunch must not log into it
    earlier = [run.info.run_id for run in mlflow_runs(cluster, "attributes.status = 'FAILED'")]
    if earlier:
        cluster["client"].run(remember_kedro_mlflow_run, earlier[0])
    process = launch(cluster, JOB)
    output = finish(process)
    assert process.returncode == 0, output[-3000:]
    plain = references["kedro_run"]()

    run = newest_run(cluster)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    succeeded = step_events(cluster, run.run_id, dg.DagsterEventType.STEP_SUCCESS)
    namespace = raw_data[0]
    assert {"synthetic__train_final_model", f"{namespace}__train_final_model"} <= set(succeeded)
    assert any(step.startswith("after_pipeline_run_hook") for step in succeeded)
    pids = {event.dagster_event.pid for event in succeeded.values()}
    assert pids <= worker_pids(cluster) and len(pids) == 2  # every step on a Dask worker, both busy
    assert os.getpid() not in pids

    # one MLflow run on the server, finished, holding what `kedro run` logs
    [mlflow_run] = mlflow_runs(cluster, f"tags.dagster_run_id = '{run.run_id}'")
    assert mlflow_run.info.status == "FINISHED" and mlflow_run.info.run_name == JOB
    logged, expected = server_contents(cluster, mlflow_run.info.run_id), mlflow_contents(plain)
    assert "fsigenz.msas.enabled" in logged["params"]
    assert logged["params"] == expected["params"]
    assert without_timings(logged["metrics"]) == without_timings(expected["metrics"])
    assert {f"{ns}.{key}" for ns in ("synthetic", namespace) for key in METRIC_KEYS} <= set(logged["metrics"])
    assert not mlflow_runs(cluster, "attributes.status = 'RUNNING'")
    assert all(mlflow_client(cluster).get_run(run_id).info.status == "FAILED" for run_id in earlier)

    # artifacts come back from the server: the same metrics.json as `kedro run` wrote
    client = mlflow_client(cluster)
    listed = {artifact.path for artifact in client.list_artifacts(mlflow_run.info.run_id, "synthetic")}
    assert {"synthetic/trained_model.pkl", "synthetic/metrics.json", "synthetic/prototypes.parquet"} <= listed
    downloads = cluster["project"] / "downloaded"
    downloaded = Path(
        client.download_artifacts(mlflow_run.info.run_id, f"{namespace}/metrics.json", str(downloads))
    )
    reference = json.loads((plain / f"data/08_reporting/{namespace}/metrics.json").read_text())
    assert without_timings(json.loads(downloaded.read_text())) == without_timings(reference)
    # (several datasets log no served model, as `kedro run` of several: the study below logs and loads one)
    # the catalog wrote under the shared data root, not the project's data/
    assert (cluster["shared"] / "06_models" / namespace / "trained_model.pkl").is_file()
    assert not (cluster["project"] / "data/06_models").exists()


def sqlite_runs(project: Path) -> dict[str, dict]:
    """The study runner's MLflow store: per setting, its run's parameters and metric histories."""
    with sqlite3.connect(project / "mlflow.db") as db:
        runs = dict(db.execute("select value, run_uuid from tags where key = 'setting'").fetchall())
        contents = {}
        for setting, run_uuid in runs.items():
            params = dict(
                db.execute("select key, value from params where run_uuid = ?", (run_uuid,)).fetchall()
            )
            metrics: dict[str, list] = {}
            query = "select key, value from metrics where run_uuid = ? order by key, step, timestamp"
            for key, value in db.execute(query, (run_uuid,)):
                metrics.setdefault(key, []).append(value)
            contents[setting] = {"run_id": run_uuid, "params": params, "metrics": metrics}
    return contents


@pytest.mark.slow
def test_study_settings_run_as_parallel_steps_with_the_results_of_sequential_kedro_runs(cluster, references):
    import dagster as dg
    import mlflow
    import pandas as pd

    from fsigenz.protocol import final_protocol
    from fsigenz.serving import feature_table

    # no report: the reporting pipeline is tested on its own; here it would add a fifth `kedro run`
    options = {"namespaces": ["synthetic"], "pipeline": STUDY_PIPELINE, "report": False}
    process = launch(cluster, STUDY_JOB, {"resources": {"study_options": {"config": options}}})
    output = finish(process)
    assert process.returncode == 0, output[-3000:]
    sequential = sqlite_runs(references["study"]())

    run = newest_run(cluster)
    succeeded = step_events(cluster, run.run_id, dg.DagsterEventType.STEP_SUCCESS)
    started = step_events(cluster, run.run_id, dg.DagsterEventType.STEP_START)
    steps = [f"{STUDY}__{name}" for name in SETTINGS]
    assert set(succeeded) == {*steps, f"{STUDY}__report"}
    pids = {succeeded[name].dagster_event.pid for name in steps}
    assert pids <= worker_pids(cluster) and len(pids) == 2
    spans = sorted((started[name].timestamp, succeeded[name].timestamp) for name in steps)
    assert any(
        later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)
    )  # settings ran at once

    # each setting's MLflow run holds what the sequential runner's `kedro run` of that setting logged
    cluster_runs = {
        r.data.tags["setting"]: r
        for r in mlflow_runs(cluster, f"tags.dagster_run_id = '{run.run_id}'")
        if r.data.tags.get("study_role") == "setting"
    }
    assert set(cluster_runs) == set(sequential) == set(SETTINGS)
    for setting, expected in sequential.items():
        assert cluster_runs[setting].info.status == "FINISHED"
        assert cluster_runs[setting].data.tags["study"] == STUDY
        logged = server_contents(cluster, cluster_runs[setting].info.run_id)
        assert logged["params"] == expected["params"], setting
        assert without_timings(logged["metrics"]) == without_timings(expected["metrics"]), setting
        for key, value in SETTINGS[setting].items():  # the setting itself reached its run
            assert logged["params"][key] == str(value), (setting, key)

    # a setting's model, served back from the server, predicts what the sequential run's model predicts
    with open(
        cluster["shared"] / "studies" / STUDY / "full" / "02_intermediate/synthetic/dataset.pkl", "rb"
    ) as file:
        rows = feature_table(final_protocol(pickle.load(file)).unseen_features[:50])
    previous = mlflow.get_tracking_uri()
    try:
        mlflow.set_tracking_uri(cluster["tracking_uri"])
        served = mlflow.pyfunc.load_model(f"runs:/{cluster_runs['full'].info.run_id}/model").predict(rows)
        study_project = references["study"]()
        os.chdir(study_project)  # its store's artifact location, mlartifacts/, is relative to the project
        mlflow.set_tracking_uri(f"sqlite:///{study_project / 'mlflow.db'}")
        reference = mlflow.pyfunc.load_model(f"runs:/{sequential['full']['run_id']}/model").predict(rows)
    finally:
        os.chdir(cluster["project"])
        mlflow.set_tracking_uri(previous)
    pd.testing.assert_frame_equal(served, reference)
    assert not mlflow_runs(cluster, "attributes.status = 'RUNNING'")
