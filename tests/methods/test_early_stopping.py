"""One early-stopping contract for every iterative method (SCC inside FSIGenZ, f-CLSWGAN)."""

import math

import numpy as np
import pytest

from fsigenz.methods.early_stopping import MONITORED_LOSS, EarlyStopping
from fsigenz.methods.fclswgan import FeatureGeneratingGANClassifier
from fsigenz.methods.fsigenz import FSIGenZClassifier
from tests.methods.test_fclswgan import TINY_SETTINGS, make_problem


def test_due_every_eval_every_steps_and_at_the_last():
    stopping = EarlyStopping(eval_every=5, total_steps=12)
    assert [step for step in range(1, 13) if stopping.due(step)] == [5, 10, 12]


def test_non_numbers_are_kept_but_neither_improve_nor_count_against_patience():
    stopping = EarlyStopping(eval_every=1, total_steps=10, patience=2)
    values = [0.5, None, math.nan, "n/a", 0.4, 0.7, 0.6, 0.6]
    stops = []
    for step, value in enumerate(values, start=1):
        stopping.record(step, value)
        stops.append(stopping.should_stop)
    assert stopping.history == list(enumerate(values, start=1))
    assert (stopping.best_step, stopping.best_score) == (6, 0.7)
    # 0.4 is the first miss (1 < patience 2), 0.7 resets, 0.6 and 0.6 are two misses -> stop
    assert stops == [False] * 7 + [True]


def test_without_patience_it_never_stops():
    stopping = EarlyStopping(eval_every=1, total_steps=100)
    for step in range(1, 50):
        stopping.record(step, 1.0 / step)
    assert not stopping.should_stop and stopping.best_step == 1


def _falling_monitor(calls):
    def monitor(step, method):
        calls.append(step)
        return 1.0 / step  # best at the first call, then never better

    return monitor


def test_fclswgan_stops_after_patience_calls_without_improvement():
    task, _, _ = make_problem()
    calls = []
    settings = {**TINY_SETTINGS, "classifier_steps": 100, "eval_every": 10, "patience": 3}
    method = FeatureGeneratingGANClassifier(**settings).fit(task, monitor=_falling_monitor(calls))
    assert calls == [10, 20, 30, 40]
    assert method.best_step_ == 10 and method.best_score_ == pytest.approx(0.1)
    assert [step for step, _ in method.monitor_history_] == calls
    assert len(method.loss_history_[MONITORED_LOSS]) == 40  # steps actually run


def test_scc_and_fclswgan_share_the_monitor_contract_and_the_loss_history_type(synthetic_problem):
    task = synthetic_problem.task
    scc = dict(
        encoder_hidden=16,
        scorer_hidden=16,
        batch_size=32,
        n_steps=100,
        eval_every=10,
        patience=3,
        device="cpu",
    )
    fsigenz_calls, fclswgan_calls = [], []
    fsigenz = FSIGenZClassifier(prototypes={"n_prototypes": 2}, scc=scc, preset="paper").fit(
        task, monitor=_falling_monitor(fsigenz_calls)
    )
    settings = {**TINY_SETTINGS, "classifier_steps": 100, "eval_every": 10, "patience": 3}
    fclswgan = FeatureGeneratingGANClassifier(**settings).fit(
        make_problem()[0], monitor=_falling_monitor(fclswgan_calls)
    )
    assert fsigenz_calls == fclswgan_calls == [10, 20, 30, 40]
    for method in (fsigenz.scc_, fclswgan):
        assert isinstance(method.loss_history_, dict)
        assert isinstance(method.loss_history_[MONITORED_LOSS], np.ndarray)
        assert method.loss_history_[MONITORED_LOSS].shape == (40,)
        assert (method.best_step_, method.monitor_history_[0]) == (10, (10, 0.1))


def test_an_anchored_scc_is_also_judged_before_its_first_step(synthetic_problem):
    """With an anchor the untrained classifier is the prototypes' own scorer: a candidate at step 0."""
    scc = dict(
        encoder_hidden=16,
        scorer_hidden=16,
        batch_size=32,
        n_steps=100,
        eval_every=10,
        patience=3,
        device="cpu",
    )
    calls = []

    def best_before_training(step, method):
        calls.append(step)
        return 1.0 / (1 + step)

    fsigenz = FSIGenZClassifier(prototypes={"n_prototypes": 2}, scc=scc, preset="anchored").fit(
        synthetic_problem.task, monitor=best_before_training
    )
    assert calls == [0, 10, 20, 30]
    assert fsigenz.scc_.best_step_ == 0
    assert fsigenz.loss_history_[MONITORED_LOSS].shape == (30,)
