"""The Kedro pipelines as Dagster jobs (kedro-dagster): one job per namespace, same results as
``kedro run``; conf/parallel's all-datasets job on the multiprocess executor, same parameters and
metrics as ``kedro run``."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT
from tests.kedro_project import KEDRO, make_project
from tests.pipelines.test_kedro_runs import METRIC_KEYS, TINY_SCC

SYNTHETIC_JOB = "local__synthetic__default"  # <env>__<namespace>__default
PARALLEL_JOB = "parallel__all_datasets"  # <env>__<job> of conf/parallel/dagster.yml
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def dagster_config(env: str = "base"):
    """conf/base/dagster.yml with conf/<env>/dagster.yml's top-level blocks over it, as Kedro reads them,
    parsed as definitions.py has kedro-dagster parse it."""
    from kedro_dagster.config import KedroDagsterConfig

    from fsigenz.definitions import register_executor_options

    register_executor_options()
    blocks = yaml.safe_load((PROJECT_ROOT / "conf/base/dagster.yml").read_text())
    if env != "base":
        blocks |= yaml.safe_load((PROJECT_ROOT / "conf" / env / "dagster.yml").read_text())
    return KedroDagsterConfig(**blocks)


@pytest.fixture
def restore_mlflow():
    """Loading a scratch project points MLflow at it and sets its experiment (in this process and in
    $MLFLOW_EXPERIMENT_ID, which later subprocesses inherit); put the process back as it was."""
    import mlflow
    from mlflow.tracking import fluent

    uri, experiment_id = mlflow.get_tracking_uri(), fluent._active_experiment_id
    variable = os.environ.get("MLFLOW_EXPERIMENT_ID")
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(uri)
    fluent._active_experiment_id = experiment_id
    if variable is None:
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    else:
        os.environ["MLFLOW_EXPERIMENT_ID"] = variable


@pytest.fixture
def pipelines_with_awa2(tmp_path, monkeypatch):
    """The registered pipelines, run from a folder where data/01_raw holds AwA2 beside the synthetic set."""
    from fsigenz.pipeline_registry import register_pipelines

    (tmp_path / "data/01_raw/awa2").mkdir(parents=True)
    (tmp_path / "data/01_raw/awa2/att_splits.mat").write_bytes(b"")  # presence is enough for the registry
    monkeypatch.chdir(tmp_path)
    return register_pipelines()


def test_one_job_per_namespace_present_each_its_namespace_of_default(pipelines_with_awa2):
    from kedro_dagster.config import InProcessExecutorOptions
    from kedro_dagster.factory import enumerate_jobs

    pipelines = pipelines_with_awa2
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


def test_parallel_env_has_one_job_running_every_dataset_on_the_multiprocess_executor(pipelines_with_awa2):
    from kedro_dagster.factory import enumerate_jobs

    from fsigenz.definitions import MultiprocessExecutorOptions

    config = dagster_config("parallel")

    jobs = enumerate_jobs(config, pipelines_with_awa2)

    assert list(jobs) == [PARALLEL_JOB.removeprefix("parallel__")]  # no per-dataset job: a node has one op
    job = jobs["all_datasets"]
    assert job.pipeline.pipeline_name == "__default__" and not job.pipeline.node_namespaces
    nodes = pipelines_with_awa2[job.pipeline.pipeline_name].nodes
    assert {node.namespace.split(".")[0] for node in nodes} == {"synthetic", "awa2"}
    executor = config.executors[job.executor]
    assert isinstance(executor, MultiprocessExecutorOptions)
    # Dagster receives the start method, which kedro-dagster's own options would refuse
    assert executor.model_dump()["start_method"]["forkserver"]["preload_modules"][0] == "fsigenz.definitions"


def test_loading_the_project_gives_kedro_mlflow_the_parameter_settings(tmp_path, monkeypatch, restore_mlflow):
    """What a Dagster step process does (load the project and its catalog, never ``before_pipeline_run``)
    leaves kedro-mlflow's hook flattening parameters as mlflow.yml asks."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook

    project = make_project(tmp_path / "project")
    settings = yaml.safe_load((project / "conf/base/mlflow.yml").read_text())
    # a store of its own: MLflow keeps one store per URI, and conf/base's relative sqlite:///mlflow.db
    # opened here would hold the runs of later tests in this process, whatever their folder
    server = {**settings["server"], "mlflow_tracking_uri": f"sqlite:///{project / 'mlflow.db'}"}
    (project / "conf/local/mlflow.yml").write_text(yaml.safe_dump({"server": server}))
    monkeypatch.chdir(project)
    bootstrap_project(project)  # settings.py: the project's hooks
    # as a fresh process has them (or another session left them)
    mlflow_hook.flatten, mlflow_hook.sep, mlflow_hook.long_params_strategy = False, "?", "fail"
    with KedroSession.create(project_path=project) as session:
        session.load_context().catalog  # noqa: B018  (building the catalog fires after_catalog_created)

    expected = settings["tracking"]["params"]
    assert (mlflow_hook.flatten, mlflow_hook.recursive, mlflow_hook.sep) == (
        expected["dict_params"]["flatten"],
        expected["dict_params"]["recursive"],
        expected["dict_params"]["sep"],
    )
    assert mlflow_hook.long_params_strategy == expected["long_params_strategy"] == "truncate"


def test_parameter_settings_untouched_when_kedro_mlflow_read_no_config(monkeypatch):
    """kedro-mlflow's hooks disabled (DISABLE_HOOKS_FOR_PLUGINS): its hook never read mlflow.yml, so
    nothing to copy."""
    from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook

    from fsigenz.hooks import StepProcessMlflowParams

    monkeypatch.delattr(mlflow_hook, "mlflow_config", raising=False)
    monkeypatch.setattr(mlflow_hook, "flatten", False)

    StepProcessMlflowParams().after_catalog_created()

    assert mlflow_hook.flatten is False


def test_a_step_logs_node_parameters_into_its_own_run_not_one_its_worker_remembers(
    tmp_path, monkeypatch, restore_mlflow
):
    """A Dask worker outlives Dagster runs, and kedro-mlflow's hook (one per process) remembers the run of
    the last ``before_pipeline_run`` it saw there. A step of a later Dagster run on that worker logs its
    node's parameters into its own run (found by its Dagster run id), and the earlier run, ended, is not
    opened again: with conf/cluster's ``run.nested: true`` it used to be set RUNNING and take them."""
    import dagster as dg
    import mlflow
    from kedro_mlflow.config.kedro_mlflow_config import KedroMlflowConfig
    from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook

    from fsigenz.definitions import step_mlflow_tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment_id = client.create_experiment("fsigenz", artifact_location=str(tmp_path / "artifacts"))
    earlier = client.create_run(experiment_id, tags={"dagster_run_id": "an-earlier-dagster-run"})
    client.set_terminated(earlier.info.run_id, "FAILED")  # as a lost worker leaves it
    config = KedroMlflowConfig.model_validate({"tracking": {"run": {"nested": True}}})  # conf/cluster's
    for name, value in {
        "mlflow_config": config, "run_id": earlier.info.run_id, "_is_mlflow_enabled": True,
        "flatten": True, "recursive": True, "sep": ".", "long_params_strategy": "truncate",
    }.items():  # fmt: skip
        monkeypatch.setattr(mlflow_hook, name, value, raising=False)

    @dg.op(required_resource_keys={"mlflow"})
    def report_per_class():  # what kedro-dagster's op does around a node with a parameter input
        inputs = {"params:evaluation": {"top_confused_pairs": 20}}
        mlflow_hook.before_node_run(node=None, catalog=None, inputs=inputs, is_async=False)

    @dg.job(resource_defs={"mlflow": step_mlflow_tracking})
    def job():
        report_per_class()

    resources = {"mlflow": {"config": {"experiment_name": "fsigenz", "mlflow_tracking_uri": uri}}}
    result = job.execute_in_process(run_config={"resources": resources})

    assert result.success
    [own] = client.search_runs([experiment_id], f"tags.dagster_run_id = '{result.run_id}'")
    assert own.data.params == {"evaluation.top_confused_pairs": "20"}
    earlier = client.get_run(earlier.info.run_id)
    assert earlier.info.status == "FAILED" and not earlier.data.params
    assert mlflow_hook.run_id is None  # and the next step on this worker forgets this run too


def test_the_expected_name_translation_warnings_are_dropped_and_others_kept(caplog):
    """kedro-dagster warns once per parameter input ('params:…' is renamed) and once per namespaced node
    (no asset group found); definitions.py drops exactly those two."""
    from kedro_dagster.utils import format_dataset_name

    from fsigenz.definitions import ExpectedTranslationWarnings, quiet_expected_translation_warnings

    quiet_expected_translation_warnings()
    quiet_expected_translation_warnings()  # installed once
    translation_logger = logging.getLogger("kedro_dagster.utils")
    assert sum(isinstance(f, ExpectedTranslationWarnings) for f in translation_logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger="kedro_dagster.utils"):
        assert format_dataset_name("params:fsigenz") == "params__fsigenz"
        translation_logger.warning(
            "Node `synthetic.train_final_model` is not part of any pipelines. "
            "Assigning '__none__' as its asset group name."
        )
        assert format_dataset_name("my-data") == "my__data"
    assert [r.getMessage()[:26] for r in caplog.records] == ["Dataset name `my-data` is "]


def test_dask_executor_gets_only_the_cluster_options_set():
    from kedro_dagster.config import KedroDagsterConfig

    from fsigenz.definitions import DaskExecutorOptions, register_executor_options

    register_executor_options()
    config = KedroDagsterConfig(
        executors={"dask": {"dask_executor": {"cluster": {"local": {"n_workers": 2}}}}}
    )

    assert isinstance(config.executors["dask"], DaskExecutorOptions)
    # dagster-dask's `cluster` takes exactly one cluster type: no null entries for the others
    assert config.executors["dask"].model_dump() == {"cluster": {"local": {"n_workers": 2}}}


def write_tiny_parameters(project: Path, env: str = "local") -> None:
    """conf/<env>/parameters.yml shrinking the synthetic SCC (merged key by key into conf/base)."""
    tiny = {"synthetic": {"fsigenz": {"scc": TINY_SCC}}}
    (project / "conf" / env / "parameters.yml").write_text(yaml.safe_dump(tiny))


def is_timing(key: str) -> bool:
    """Wall times (metrics.json's ``seconds_*``, MLflow's ``<ns>.seconds_*`` and ``time.<node>``) differ
    run to run."""
    return key.rsplit(".", 1)[-1].startswith("seconds_") or key.startswith("time.")


def without_timings(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if not is_timing(key)}


def mlflow_contents(project: Path) -> dict:
    """The project's MLflow store (sqlite:///mlflow.db): runs, tags, parameters and metric histories."""
    with sqlite3.connect(project / "mlflow.db") as db:
        metrics: dict[str, list] = {}
        for key, _step, value in db.execute("select key, step, value from metrics order by key, step"):
            metrics.setdefault(key, []).append(value)
        return {
            "runs": db.execute("select run_uuid, name, status from runs").fetchall(),
            "tags": dict(db.execute("select key, value from tags").fetchall()),
            "params": dict(db.execute("select key, value from params").fetchall()),
            "metrics": metrics,
        }


@pytest.fixture(scope="module")
def kedro_run_reference(tmp_path_factory):
    """``kedro run`` of the synthetic default with a tiny SCC, the run the Dagster runs are compared with:
    started in its own process when a test first asks for it, so that it goes alongside that test's run,
    and shared by the module's tests. Call it to wait for it and get its project folder."""
    project = make_project(tmp_path_factory.mktemp("kedro_run"))
    write_tiny_parameters(project)
    process = subprocess.Popen(
        [KEDRO, "run"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = []

    def finished() -> Path:
        if process.returncode is None:
            output.append(process.communicate(timeout=600)[0])
        assert process.returncode == 0, output[0][-3000:]
        return project

    yield finished
    if process.poll() is None:
        process.kill()


@pytest.mark.slow
def test_synthetic_job_in_process_gives_the_metrics_of_kedro_run(
    tmp_path,
    monkeypatch,
    restore_mlflow,
    kedro_run_reference,
):
    from fsigenz.definitions import build_definitions

    orchestrated = make_project(tmp_path / "dagster")
    write_tiny_parameters(orchestrated)
    monkeypatch.chdir(orchestrated)  # the registry and MLflow's sqlite:///mlflow.db are relative to it
    job = build_definitions(project_path=orchestrated, env="local").resolve_job_def(SYNTHETIC_JOB)
    result = job.execute_in_process(raise_on_error=False)
    plain = kedro_run_reference()
    failures = [event.message for event in result.all_events if event.is_failure]
    assert result.success, failures

    metrics = json.loads((orchestrated / "data/08_reporting/synthetic/metrics.json").read_text())
    expected = json.loads((plain / "data/08_reporting/synthetic/metrics.json").read_text())
    assert METRIC_KEYS <= set(metrics)
    assert without_timings(metrics) == without_timings(expected)

    # kedro-mlflow's hooks ran inside the Dagster run: one MLflow run, closed, holding what `kedro run` logs
    logged = mlflow_contents(orchestrated)
    runs, metric_keys, param_keys = logged["runs"], set(logged["metrics"]), set(logged["params"])
    assert [(name, status) for _, name, status in runs] == [(SYNTHETIC_JOB, "FINISHED")]
    assert logged["tags"]["dagster_run_id"] == result.run_id
    assert {f"synthetic.{key}" for key in METRIC_KEYS} <= metric_keys
    assert "time.synthetic.train_final_model" in metric_keys  # the project's own hook
    assert "fsigenz.msas.enabled" in param_keys and "model.method" in param_keys
    artifacts = {p.name for p in (orchestrated / "mlartifacts" / runs[0][0]).rglob("*") if p.is_file()}
    assert {"trained_model.pkl", "prototypes.parquet", "metrics.json"} <= artifacts


@pytest.mark.slow
def test_all_datasets_job_on_the_multiprocess_executor_logs_what_kedro_run_logs(
    tmp_path, kedro_run_reference
):
    """conf/parallel's job, every step in a process of its own that never saw ``before_pipeline_run``:
    the MLflow run holds `kedro run`'s flattened parameters, values and metrics."""
    import dagster as dg

    orchestrated = make_project(tmp_path / "dagster")
    write_tiny_parameters(orchestrated, env="parallel")  # --env parallel reads conf/parallel, not conf/local
    dagster_home = tmp_path / "dagster_home"  # Dagster's instance: the run's events, read below
    dagster_home.mkdir()
    environment = {**os.environ, "KEDRO_ENV": "parallel", "DAGSTER_HOME": str(dagster_home)}
    orchestrated_run = subprocess.run(
        [DAGSTER, "job", "execute", "-m", "fsigenz.definitions", "-a", "defs", "-j", PARALLEL_JOB],
        cwd=orchestrated,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    plain = kedro_run_reference()
    assert orchestrated_run.returncode == 0, (orchestrated_run.stdout + orchestrated_run.stderr)[-3000:]

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    [run] = instance.get_runs()
    steps = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
    assert {"before_pipeline_run_hook_all_datasets", "synthetic__train_final_model"} <= {
        e.step_key for e in steps
    }
    assert len({event.dagster_event.pid for event in steps}) == len(
        steps
    )  # every step in a process of its own

    logged, expected = mlflow_contents(orchestrated), mlflow_contents(plain)
    assert [(name, status) for _, name, status in logged["runs"]] == [(PARALLEL_JOB, "FINISHED")]
    assert logged["tags"]["dagster_run_id"] == run.run_id
    assert "fsigenz.msas.enabled" in logged["params"]  # flattened, as conf/base/mlflow.yml asks
    assert logged["params"] == expected["params"]  # same keys, same values
    assert without_timings(logged["metrics"]) == without_timings(expected["metrics"])
    assert {f"synthetic.{key}" for key in METRIC_KEYS} <= set(logged["metrics"])
