"""The training loops report their progress (fsigenz.progress), and watching them changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from fsigenz.methods.fclswgan import FeatureGeneratingGANClassifier
from fsigenz.methods.fsigenz import FSIGenZClassifier
from fsigenz.progress import ObserverGroup, ProgressDisplay, observed_by
from fsigenz.protocol import ZeroShotProtocol, select_model
from tests.methods.test_fclswgan import TINY_SETTINGS, make_problem
from tests.test_progress import RecordingObserver

SMALL_SCC = {"encoder_hidden": 16, "scorer_hidden": 16, "batch_size": 32, "eval_every": 10}


def _fsigenz(**scc) -> FSIGenZClassifier:
    return FSIGenZClassifier(prototypes={"n_prototypes": 3}, scc={**SMALL_SCC, **scc})


def _steps_are_increasing_and_end_at(recorder: RecordingObserver, stage: str, last: int) -> None:
    steps = [event[2] for event in recorder.of("step", stage)]
    assert steps == list(range(1, last + 1))
    assert recorder.of("end", stage) == [("end", stage, last)]


def _monitor(step, model):
    return float(np.sin(step))  # any deterministic curve


def test_scc_training_reports_every_step_and_each_evaluation(synthetic_problem):
    recorder = RecordingObserver()
    with observed_by(recorder):
        model = _fsigenz(n_steps=35).fit(synthetic_problem.task, monitor=_monitor)
    assert recorder.stages() == ["scc"]
    assert recorder.of("start") == [("start", "scc", 35, 0)]
    _steps_are_increasing_and_end_at(recorder, "scc", 35)
    evaluations = [(event[2], event[3]) for event in recorder.of("evaluation")]
    assert evaluations == list(model.monitor_history_)  # steps 0 (the anchor), 10, 20, 30, 35
    assert [step for step, _ in evaluations] == [0, 10, 20, 30, 35]
    losses = [event[3]["loss"] for event in recorder.of("step") if event[3]]
    np.testing.assert_allclose(losses, model.loss_history_["classifier"], rtol=1e-6)  # windows of 1 step


def test_early_stopping_ends_the_stage_at_the_last_step_run(synthetic_problem):
    recorder = RecordingObserver()
    with observed_by(recorder):
        model = _fsigenz(n_steps=200, patience=2).fit(synthetic_problem.task, monitor=lambda step, _: -step)
    assert model.scc_.n_steps_ == 20  # 0 is the best; 10 and 20 do not improve
    _steps_are_increasing_and_end_at(recorder, "scc", 20)


def test_watching_the_scc_changes_nothing_bit_for_bit(synthetic_problem):
    task = synthetic_problem.task
    unwatched = _fsigenz(n_steps=30).fit(task, monitor=_monitor)
    with observed_by(ObserverGroup([RecordingObserver(), ProgressDisplay("log")])):
        watched = _fsigenz(n_steps=30).fit(task, monitor=_monitor)
    features = synthetic_problem.test_unseen_features
    np.testing.assert_array_equal(unwatched.decision_function(features), watched.decision_function(features))
    np.testing.assert_array_equal(unwatched.loss_history_["classifier"], watched.loss_history_["classifier"])
    assert unwatched.monitor_history_ == watched.monitor_history_
    for name, weights in unwatched.scc_.network_.state_dict().items():
        np.testing.assert_array_equal(weights.numpy(), watched.scc_.network_.state_dict()[name].numpy())


@pytest.fixture(scope="module")
def gan_problem():
    task, features, _ = make_problem()
    return task, features


def test_fclswgan_reports_its_three_training_stages(gan_problem):
    task, _ = gan_problem
    recorder = RecordingObserver()
    with observed_by(recorder):
        model = FeatureGeneratingGANClassifier(seed=0, eval_every=5, **TINY_SETTINGS).fit(
            task, monitor=_monitor
        )
    assert recorder.stages() == ["seen_classifier", "gan", "classifier"]
    _steps_are_increasing_and_end_at(recorder, "seen_classifier", model.loss_history_["seen_classifier"].size)
    _steps_are_increasing_and_end_at(recorder, "gan", TINY_SETTINGS["generator_steps"])
    _steps_are_increasing_and_end_at(recorder, "classifier", model.loss_history_["classifier"].size)
    gan_losses = [event[3] for event in recorder.of("step", "gan")]
    assert set(gan_losses[-1]) == {"critic_loss", "generator_loss"}
    assert [(e[2], e[3]) for e in recorder.of("evaluation", "classifier")] == model.monitor_history_


def test_watching_fclswgan_changes_nothing_bit_for_bit(gan_problem):
    task, features = gan_problem
    unwatched = FeatureGeneratingGANClassifier(seed=0, **TINY_SETTINGS).fit(task, monitor=_monitor)
    with observed_by(ProgressDisplay("log")):
        watched = FeatureGeneratingGANClassifier(seed=0, **TINY_SETTINGS).fit(task, monitor=_monitor)
    np.testing.assert_array_equal(unwatched.decision_function(features), watched.decision_function(features))
    for name, losses in unwatched.loss_history_.items():
        np.testing.assert_array_equal(losses, watched.loss_history_[name])


def test_each_grid_setting_is_a_stage_of_its_own(synthetic_problem):
    task = synthetic_problem.task
    seen_rows = np.arange(0, task.features.shape[0], 5)
    protocol = ZeroShotProtocol(
        task=task,
        unseen_features=synthetic_problem.test_unseen_features,
        unseen_labels=synthetic_problem.test_unseen_labels,
        seen_features=task.features[seen_rows],
        seen_labels=task.labels[seen_rows],
        dataset_classes=np.arange(task.n_classes),
    )
    recorder = RecordingObserver()
    with observed_by(recorder):
        result = select_model(
            protocol,
            lambda params: FSIGenZClassifier(**params),
            {"prototypes": {"n_prototypes": 3}, "scc": {**SMALL_SCC, "n_steps": 20}},
            {"scc.beta": [0.1, 0.5]},
        )
    assert recorder.stages() == ["grid", "setting_1.scc", "setting_2.scc"]
    _steps_are_increasing_and_end_at(recorder, "grid", 2)
    best_of_each = [max(point["gzsl_h"] for point in curve["points"]) for curve in result.curves]
    assert [event[3] for event in recorder.of("evaluation", "grid")] == best_of_each
