"""A failed ``kedro run`` ends with its real reason, short; its MLflow run says so; its outputs are not
published."""

from __future__ import annotations

import sqlite3

import click
import pytest

from fsigenz.cli import RunStopped, check_namespaces, error_report, first_error
from fsigenz.pipelines.classifier_training.nodes import select_on_validation
from tests.kedro_project import kedro, make_project
from tests.pipelines.test_nodes import configuration


def test_zero_training_steps_are_refused_naming_the_parameter(small_synthetic):
    config = configuration(command_line={"fsigenz": {"scc": {"n_steps": 0}}})
    with pytest.raises(
        ValueError, match=r"parameters 'fsigenz.scc.n_steps': expected an integer >= 1 .* got 0"
    ):
        select_on_validation(small_synthetic, config)


def test_unknown_or_empty_namespace_lists_the_valid_ones_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/01_raw/awa2").mkdir(parents=True)
    (tmp_path / "data/01_raw/awa2/res101.mat").write_bytes(b"x")
    with pytest.raises(
        click.BadParameter,
        match=r"unknown dataset namespace 'foo'; expected one of synthetic, cub, awa2, sun, custom "
        r"\(with data now: synthetic, awa2\)",
    ):
        check_namespaces(["foo"])
    with pytest.raises(
        click.BadParameter, match=r"dataset 'cub' has no data: put its files in data/01_raw/cub/"
    ):
        check_namespaces(["cub"])
    check_namespaces(["synthetic", "awa2"])  # present: accepted


def clean_up_after_failure():
    """A clean-up hook that fails itself, as kedro-mlflow's did: its error chains the first only
    implicitly (``__context__``)."""
    raise RuntimeError("No free input is allowed")


def test_report_names_the_first_error_not_the_one_raised_while_handling_it():
    try:
        try:
            raise ValueError("prototypes: field 'n_prototypes': expected an integer >= 0, got -5")
        except ValueError:
            clean_up_after_failure()  # a follow-on error raised while handling the first
    except RuntimeError as error:
        raised = error
    assert isinstance(first_error(raised), ValueError)
    report = error_report(raised, "synthetic.generate_prototype_table", None).splitlines()
    assert report[0] == "Error: prototypes: field 'n_prototypes': expected an integer >= 0, got -5"
    assert "in node synthetic.generate_prototype_table" in report[1] and "then RuntimeError" in report[1]
    assert len(report) == 2
    # an explicit "raise ... from" is a deliberate rewording: that one is reported
    try:
        try:
            raise KeyError("x")
        except KeyError as cause:
            raise ValueError("parameters 'x': expected a number") from cause
    except ValueError as error:
        assert first_error(error) is error


@pytest.mark.parametrize(("signal_name", "raised"), [("SIGINT", KeyboardInterrupt), ("SIGTERM", RunStopped)])
def test_a_stop_whose_exception_python_dropped_is_raised_at_the_next_node_boundary(
    signal_name, raised, monkeypatch
):
    """Python prints and drops an exception raised inside a finalizer; a Ctrl-C that lands there must
    still stop the run, at the next node's start or end, and only until the run has handled it."""
    import gc
    import signal

    from fsigenz import cli
    from fsigenz.hooks import RequestedStopHooks

    monkeypatch.setattr(cli, "_requested_stop", [])
    hooks = RequestedStopHooks()
    hooks.before_node_run()  # no signal: nothing happens

    class Finalized:
        def __del__(self):  # the signal arrives while this runs
            cli._raise_run_stopped(getattr(signal, signal_name), None)

    dropped = []
    monkeypatch.setattr("sys.unraisablehook", lambda unraisable: dropped.append(unraisable.exc_type))
    Finalized()
    gc.collect()
    assert dropped == [raised]  # the first raise was lost, as in a real run
    with pytest.raises(raised):
        hooks.before_node_run()
    with pytest.raises(raised):
        hooks.after_node_run()
    cli._requested_stop.clear()  # what `kedro run` does once it has handled the stop
    hooks.after_node_run()


def test_part_of_the_model_logging_pipeline_stays_usable():
    """Kedro's resume hint asks for the pipeline from a later node; kedro-mlflow's model-logging
    pipeline refused such a part with an error that hid the real one. The served model is now logged
    by a node of a plain pipeline, whose every part is usable."""
    from fsigenz.pipeline_registry import register_pipelines

    default = register_pipelines()["__default__"]
    part = default.from_nodes("synthetic.evaluate_on_test")
    assert "synthetic.evaluate_on_test" in {n.name for n in part.nodes}
    assert "synthetic.select_on_validation" not in {n.name for n in part.nodes}


@pytest.mark.slow
def test_bad_parameter_ends_with_the_reason_and_tags_a_validation_failure(tmp_path):
    project = make_project(tmp_path / "project")
    result = kedro(project, "run", "--params=fsigenz.prototypes.n_prototypes=-5")
    assert result.returncode == 1
    last = result.stderr.rstrip().splitlines()[-2:]
    assert last[0] == "Error: n_prototypes: expected an integer >= 0, got -5", result.stderr[-3000:]
    assert "in node synthetic.generate_prototype_table" in last[1] and "logs/last_error.log" in last[1]
    assert "KedroMlflowPipelineMLError" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "raise ValueError" in (project / "logs/last_error.log").read_text()  # the full traceback is kept
    # nothing published: the dataset written by the first node stayed staged and was discarded
    assert not (project / "data/02_intermediate/synthetic/dataset.pkl").exists()
    assert not (project / "data/.staging").exists()
    with sqlite3.connect(project / "mlflow.db") as db:
        (status,) = db.execute("select status from runs").fetchone()
        tags = dict(db.execute("select key, value from tags"))
    assert status == "FAILED" and tags["fsigenz.outcome"] == "validation_failure"
    assert tags["fsigenz.failed_node"] == "synthetic.generate_prototype_table"
    assert "n_prototypes" in tags["fsigenz.reason"]
    assert tags["kedro_command"] == "kedro run --params=fsigenz.prototypes.n_prototypes=-5"

    verbose = kedro(
        project, "run", "--params=fsigenz.prototypes.n_prototypes=-5", env={"FSIGENZ_VERBOSE": "1"}
    )
    assert (
        verbose.returncode == 1 and "Traceback" in verbose.stderr and "_validate_parameters" in verbose.stderr
    )


def test_runs_left_running_by_a_killed_process_are_closed_by_the_next(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    import mlflow

    from fsigenz.run_records import (
        HOST,
        OUTCOME,
        PID,
        PROCESS_STARTED,
        close_runs_of_dead_processes,
        process_started,
    )

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("fsigenz", artifact_location=str(tmp_path / "artifacts"))
    dead_pid = int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        ).stdout
    )
    host = socket.gethostname()
    owners = {
        "killed": {PID: str(dead_pid), HOST: host, PROCESS_STARTED: "1.00"},
        "alive": {PID: str(os.getpid()), HOST: host, PROCESS_STARTED: process_started(os.getpid())},
        "elsewhere": {PID: str(dead_pid), HOST: host + "-other", PROCESS_STARTED: "1.00"},
        "untagged": {},
    }
    runs = {
        name: client.create_run(experiment, tags=tags, run_name=name).info.run_id
        for name, tags in owners.items()
    }
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        assert close_runs_of_dead_processes(experiment, current_run_id=None) == [runs["killed"]]
    finally:
        mlflow.set_tracking_uri(previous)
    killed = client.get_run(runs["killed"])
    assert killed.info.status == "KILLED" and killed.data.tags[OUTCOME] == "killed"
    assert all(
        client.get_run(runs[name]).info.status == "RUNNING" for name in ("alive", "elsewhere", "untagged")
    )
