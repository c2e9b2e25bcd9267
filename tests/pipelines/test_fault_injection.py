"""Fault injection: a real ``kedro run`` stopped with SIGTERM, SIGINT and SIGKILL at a few points, then run
again. After each stop the MLflow run is neither RUNNING nor FINISHED and the files under data/ are still
those of the last complete run; the run after a SIGKILL marks the killed one, and its metrics equal those
of an uninterrupted run with the same parameters."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.kedro_project import KEDRO, kedro, make_project
from tests.pipelines.test_kedro_runs import METRIC_KEYS, tiny_params

pytestmark = pytest.mark.slow

PARAMS = tiny_params("synthetic")
OTHER_PARAMS = PARAMS + ",fsigenz.prototypes.n_prototypes=5"  # a run whose outputs would disagree
OUTPUTS = (
    "02_intermediate/synthetic/dataset.pkl",
    "04_feature/synthetic/prototypes.parquet",
    "06_models/synthetic/model_selection.json",
    "06_models/synthetic/trained_model.pkl",
    "06_models/synthetic/image_backbone.pkl",
    "08_reporting/synthetic/metrics.json",
)


def _environment() -> dict:
    return {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }


def run_and_stop(project: Path, params: str, node: str, signal_number: int) -> tuple[int, str]:
    """Start ``kedro run --params=params`` and send ``signal_number`` when ``node`` starts; its exit code
    and output."""
    log = project / f"stopped_{signal_number}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [KEDRO, "run", f"--params={params}"],
            cwd=project,
            env=_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            # as from a terminal: Ctrl-C reaches it even when this test runs in a background job
            # (which ignores SIGINT)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 600
        while (
            f"Running node: {node}" not in log.read_text()
            and process.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        if f"Running node: {node}" not in log.read_text():
            process.kill()
            pytest.fail(
                f"the run did not reach {node} (ended: {process.poll() is not None}):\n"
                f"{log.read_text()[-3000:]}"
            )
        process.send_signal(signal_number)
        return process.wait(timeout=300), log.read_text()


def mlflow_runs(project: Path) -> pd.DataFrame:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("fsigenz")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    return pd.DataFrame(
        [{"run_id": r.info.run_id, "status": r.info.status, **r.data.tags} for r in runs]
    ).set_index("run_id")


def fingerprints(project: Path) -> dict[str, str]:
    return {name: hashlib.sha256((project / "data" / name).read_bytes()).hexdigest() for name in OUTPUTS}


def assert_outputs_agree(project: Path) -> dict:
    """The published files come from one run: the prototype table, the selection record and the metrics
    tell the same number of prototypes and the same selected step; no staged leftovers."""
    data = project / "data"
    metrics = json.loads((data / "08_reporting/synthetic/metrics.json").read_text())
    selection = json.loads((data / "06_models/synthetic/model_selection.json").read_text())
    prototypes = pd.read_parquet(data / "04_feature/synthetic/prototypes.parquet")
    assert prototypes.groupby("class").size().eq(metrics["n_synthetic_per_class"]).all()
    assert selection["best_step"] == metrics["selected_step"]
    assert not (data / ".staging").exists()
    return metrics


def test_stopped_runs_are_recorded_and_publish_nothing(tmp_path):
    project = make_project(tmp_path / "project")
    first = kedro(project, "run", f"--params={PARAMS}", env={"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    reference = assert_outputs_agree(project)
    published = fingerprints(project)

    # SIGTERM (as `timeout` and `kill` send) during model selection, with parameters that change the outputs
    code, output = run_and_stop(project, OTHER_PARAMS, "select_on_validation", signal.SIGTERM)
    assert code == 128 + signal.SIGTERM and output.rstrip().splitlines()[-1].startswith(
        "Run stopped by SIGTERM"
    )
    # Ctrl-C during model selection too: with the anchored default the final fit may train 0 steps, and a
    # signal sent when that node starts can arrive after the run has already finished
    code, output = run_and_stop(project, OTHER_PARAMS, "select_on_validation", signal.SIGINT)
    assert code == 128 + signal.SIGINT and "Run stopped by SIGINT" in output
    runs = mlflow_runs(project)
    assert list(runs["status"]) == ["FINISHED", "KILLED", "KILLED"]
    assert list(runs["fsigenz.outcome"]) == ["finished", "stopped", "stopped"]
    assert "SIGTERM" in runs["fsigenz.reason"].iloc[1] and "SIGINT" in runs["fsigenz.reason"].iloc[2]
    assert runs["kedro_command"].iloc[1] == f"kedro run --params={OTHER_PARAMS}"
    assert fingerprints(project) == published  # nothing of the stopped runs reached data/
    assert_outputs_agree(project)

    # SIGKILL: the process cannot close its run; the next run finds it and marks it
    code, _ = run_and_stop(project, PARAMS, "select_on_validation", signal.SIGKILL)
    assert code == -signal.SIGKILL
    killed = mlflow_runs(project).index[-1]
    assert mlflow_runs(project).loc[killed, "status"] == "RUNNING"
    assert fingerprints(project) == published
    rerun = kedro(project, "run", f"--params={PARAMS}", env={"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    runs = mlflow_runs(project)
    assert runs.loc[killed, "status"] == "KILLED" and runs.loc[killed, "fsigenz.outcome"] == "killed"
    assert runs["status"].iloc[-1] == "FINISHED" and not runs["status"].isin(["RUNNING"]).any()

    # the rerun reproduces the uninterrupted run
    again = assert_outputs_agree(project)
    assert {key: again[key] for key in METRIC_KEYS} == {key: reference[key] for key in METRIC_KEYS}
    assert again["selected_step"] == reference["selected_step"]
    assert (
        fingerprints(project)["04_feature/synthetic/prototypes.parquet"]
        == published["04_feature/synthetic/prototypes.parquet"]
    )
