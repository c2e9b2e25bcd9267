"""The Kedro pipelines as Dagster jobs (kedro-dagster): one job per namespace, same results as ``kedro run``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT
from tests.kedro_project import KEDRO, make_project
from tests.pipelines.test_kedro_runs import METRIC_KEYS, TINY_SCC

SYNTHETIC_JOB = "local__synthetic__default"  # <env>__<namespace>__default


def dagster_config():
    from kedro_dagster.config import KedroDagsterConfig

    return KedroDagsterConfig(**yaml.safe_load((PROJECT_ROOT / "conf/base/dagster.yml").read_text()))


def test_one_job_per_namespace_present_each_its_namespace_of_default(tmp_path, monkeypatch):
    from kedro_dagster.config import InProcessExecutorOptions, MultiprocessExecutorOptions
    from kedro_dagster.factory import enumerate_jobs

    from fsigenz.pipeline_registry import register_pipelines

    (tmp_path / "data/01_raw/awa2").mkdir(parents=True)
    (tmp_path / "data/01_raw/awa2/att_splits.mat").write_bytes(b"")  # presence is enough for the registry
    monkeypatch.chdir(tmp_path)
    pipelines = register_pipelines()
    config = dagster_config()

    jobs = enumerate_jobs(config, pipelines)

    assert set(jobs) == {"synthetic__default", "awa2__default"}
    for name, job in jobs.items():
        namespace = name.removesuffix("__default")
        assert job.pipeline.pipeline_name == "__default__" and job.pipeline.node_namespaces == [namespace]
        nodes = pipelines["__default__"].filter(node_namespaces=[namespace]).nodes
        assert nodes and {node.namespace.split(".")[0] for node in nodes} == {namespace}
        assert job.executor == "in_process"  # as `kedro run`: kedro-mlflow's hooks see every node
    assert isinstance(config.executors["in_process"], InProcessExecutorOptions)
    assert isinstance(config.executors["multiprocess"], MultiprocessExecutorOptions)


def test_dask_executor_gets_only_the_cluster_options_set():
    from kedro_dagster.config import KedroDagsterConfig

    from fsigenz.definitions import DaskExecutorOptions, register_dask_options

    register_dask_options()
    config = KedroDagsterConfig(executors={"dask": {"dask_executor": {"cluster": {"local": {"n_workers": 2}}}}})

    assert isinstance(config.executors["dask"], DaskExecutorOptions)
    # dagster-dask's `cluster` takes exactly one cluster type: no null entries for the others
    assert config.executors["dask"].model_dump() == {"cluster": {"local": {"n_workers": 2}}}


def write_tiny_parameters(project: Path) -> None:
    """conf/local/parameters.yml shrinking the synthetic SCC (merged key by key into conf/base)."""
    tiny = {"synthetic": {"overrides": {"fsigenz": {"scc": TINY_SCC}}}}
    (project / "conf/local/parameters.yml").write_text(yaml.safe_dump(tiny))


def without_timings(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if not key.startswith("seconds_")}


@pytest.fixture
def restore_mlflow():
    """The in-process run points MLflow at the scratch project; put the process back as it was."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(uri)


@pytest.mark.slow
def test_synthetic_job_in_process_gives_the_metrics_of_kedro_run(tmp_path, monkeypatch, restore_mlflow):
    from fsigenz.definitions import build_definitions

    plain, orchestrated = make_project(tmp_path / "kedro_run"), make_project(tmp_path / "dagster")
    for project in (plain, orchestrated):
        write_tiny_parameters(project)
    # the plain `kedro run` goes alongside, in its own process
    reference = subprocess.Popen(
        [KEDRO, "run"], cwd=plain, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        monkeypatch.chdir(orchestrated)  # the registry and MLflow's sqlite:///mlflow.db are relative to it
        job = build_definitions(project_path=orchestrated, env="local").resolve_job_def(SYNTHETIC_JOB)
        result = job.execute_in_process(raise_on_error=False)
        output, _ = reference.communicate(timeout=600)
    finally:
        if reference.poll() is None:
            reference.kill()
    failures = [event.message for event in result.all_events if event.is_failure]
    assert result.success, failures
    assert reference.returncode == 0, output[-3000:]

    metrics = json.loads((orchestrated / "data/08_reporting/synthetic/metrics.json").read_text())
    expected = json.loads((plain / "data/08_reporting/synthetic/metrics.json").read_text())
    assert METRIC_KEYS <= set(metrics)
    assert without_timings(metrics) == without_timings(expected)

    # kedro-mlflow's hooks ran inside the Dagster run: one MLflow run, closed, holding what `kedro run` logs
    with sqlite3.connect(orchestrated / "mlflow.db") as db:
        runs = db.execute("select run_uuid, name, status from runs").fetchall()
        tags = dict(db.execute("select key, value from tags").fetchall())
        metric_keys = {row[0] for row in db.execute("select distinct key from metrics")}
        param_keys = {row[0] for row in db.execute("select distinct key from params")}
    assert [(name, status) for _, name, status in runs] == [(SYNTHETIC_JOB, "FINISHED")]
    assert tags["dagster_run_id"] == result.run_id
    assert {f"synthetic.{key}" for key in METRIC_KEYS} <= metric_keys
    assert "time.synthetic.train_final_model" in metric_keys  # the project's own hook
    assert "fsigenz.msas.enabled" in param_keys and "model.method" in param_keys
    artifacts = {p.name for p in (orchestrated / "mlartifacts" / runs[0][0]).rglob("*") if p.is_file()}
    assert {"trained_model.pkl", "prototypes.parquet", "metrics.json"} <= artifacts

