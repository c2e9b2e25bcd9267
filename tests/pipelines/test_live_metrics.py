"""Live training metrics in MLflow (fsigenz.pipelines.live_metrics) and the progress parameters."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from fsigenz.methods.fsigenz import FSIGenZClassifier
from fsigenz.pipelines.live_metrics import MlflowLiveMetrics, ProgressSettings
from fsigenz.progress import ObserverGroup, ProgressDisplay, observed_by
from tests.methods.problems import make_synthetic_problem

SCC = {"encoder_hidden": 16, "scorer_hidden": 16, "batch_size": 32, "n_steps": 20, "eval_every": 5}
PREFIX = "synthetic.select_on_validation"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite MLflow store of the module's own (tmp dir): (client, experiment id)."""
    folder = tmp_path_factory.mktemp("mlflow")
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    return client, client.create_experiment("progress", artifact_location=str(folder / "artifacts"))


@pytest.fixture
def tracking(store):
    """A fresh run of the store, closed afterwards."""
    client, experiment = store
    run = client.create_run(experiment)
    yield client, run.info.run_id
    client.set_terminated(run.info.run_id)


def test_the_validation_curve_reaches_mlflow_while_training_runs(tracking, single_torch_thread):
    client, run_id = tracking
    key = f"{PREFIX}.scc.validation.gzsl_h"
    seen_during_training = []

    def monitor(step, model):
        # what the MLflow UI shows at this moment: the evaluations before this one
        seen_during_training.append([m.step for m in client.get_metric_history(run_id, key)])
        return 50.0 + step / 10

    live = MlflowLiveMetrics(run_id, PREFIX, "gzsl_h", client=client, flush_every_s=0)
    task = make_synthetic_problem().task
    with observed_by(live):
        model = FSIGenZClassifier(prototypes={"n_prototypes": 3}, scc=SCC).fit(task, monitor=monitor)
    assert seen_during_training == [[], [0], [0, 5], [0, 5, 10], [0, 5, 10, 15]]

    history = client.get_metric_history(run_id, key)
    assert [(m.step, m.value) for m in history] == [(s, pytest.approx(v)) for s, v in model.monitor_history_]
    losses = client.get_metric_history(run_id, f"{PREFIX}.scc.loss")
    steps = [m.step for m in losses]
    assert steps == sorted(steps) and steps[-1] == SCC["n_steps"] and len(steps) == SCC["n_steps"]
    np.testing.assert_allclose([m.value for m in losses], model.loss_history_["classifier"], rtol=1e-6)


def test_batched_writes_keep_every_point_and_flush_at_the_end(tracking, single_torch_thread):
    client, run_id = tracking
    clock = iter(range(10_000))  # one "second" per call: a flush every 5 points or so
    live = MlflowLiveMetrics(run_id, PREFIX, client=client, flush_every_s=5, clock=lambda: next(clock))
    task = make_synthetic_problem().task
    with observed_by(ObserverGroup([live, ProgressDisplay("off")])):
        FSIGenZClassifier(prototypes={"n_prototypes": 3}, scc=SCC).fit(task, monitor=lambda step, _: step)
    assert [m.step for m in client.get_metric_history(run_id, f"{PREFIX}.scc.validation")] == [
        0,
        5,
        10,
        15,
        20,
    ]
    assert len(client.get_metric_history(run_id, f"{PREFIX}.scc.loss")) == SCC["n_steps"]


def test_a_refused_write_warns_once_and_training_goes_on(caplog):
    class RefusingClient:
        calls = 0

        def log_batch(self, run_id, metrics):
            RefusingClient.calls += 1
            raise mlflow.exceptions.MlflowException("database is locked")

    live = MlflowLiveMetrics("run", PREFIX, client=RefusingClient(), flush_every_s=0)
    for step in range(1, 4):
        live.on_step("scc", step, {"loss": 1.0})
    live.on_end("scc", 3)
    assert RefusingClient.calls == 1
    assert [r.getMessage() for r in caplog.records if "Live training metrics stopped" in r.getMessage()]


def test_progress_settings_are_checked_and_the_environment_wins(monkeypatch):
    monkeypatch.delenv("FSIGENZ_PROGRESS", raising=False)
    assert ProgressSettings.from_parameters(None) == ProgressSettings()
    assert ProgressSettings.from_parameters({"display": "log"}).display == "log"
    monkeypatch.setenv("FSIGENZ_PROGRESS", "off")
    settings = ProgressSettings.from_parameters({"display": "bar"})
    assert settings.display == "off"
    assert settings.observer("cub.train_final_model", run_id=None) is None  # nothing to show, no run
    with pytest.raises(ValueError, match=r"parameters 'progress': unknown key\(s\) \['colour'\]"):
        ProgressSettings.from_parameters({"colour": "blue"})
    with pytest.raises(ValueError, match="parameters 'progress.log_every_s': expected a number >= 0, got -1"):
        ProgressSettings.from_parameters({"log_every_s": -1})
    with pytest.raises(ValueError, match="parameters 'progress.mlflow': expected true or false"):
        ProgressSettings.from_parameters({"mlflow": "yes"})
