import numpy as np
import pytest

from fsigenz.methods.fsigenz import FSIGenZClassifier
from tests.methods.problems import unseen_accuracy

SMALL_SCC = dict(encoder_hidden=64, scorer_hidden=64, batch_size=32, n_steps=300, device="cpu")


@pytest.fixture(scope="module")
def fitted(synthetic_problem):
    return FSIGenZClassifier(scc=SMALL_SCC).fit(synthetic_problem.task)


def test_beats_chance_on_unseen_classes_by_a_wide_margin(fitted, synthetic_problem):
    scores = fitted.decision_function(synthetic_problem.test_unseen_features)
    assert scores.shape == (len(synthetic_problem.test_unseen_features), 16)
    assert unseen_accuracy(scores, synthetic_problem) >= 0.6  # chance: 0.25


def test_fitted_pieces_are_exposed(fitted, synthetic_problem):
    task = synthetic_problem.task
    assert fitted.prototypes_.shape == (4, 20, 32) and fitted.prototypes_.dtype == np.float32
    assert fitted.n_synthetic_per_class == 20
    np.testing.assert_allclose(fitted.prototype_lambdas_, np.geomspace(1e-3, 1e1, 20))
    # MSAS, written out: A = (A_o + A_o * 1[A_o > T_h]) * W_A, T_h the 0.75 quantile of A_o (defaults)
    raw = task.class_attributes
    threshold = np.quantile(raw, 0.75)
    np.testing.assert_allclose(fitted.adjusted_attributes_, raw + raw * (raw > threshold))
    assert fitted.similarity_.shape == (16, 16)
    np.testing.assert_allclose(fitted.similarity_.sum(axis=1), 1.0)
    # Prototypes live in the centred space: rescaled to the norm of the centred class means.
    assert np.linalg.norm(fitted.prototypes_, axis=2) == pytest.approx(
        fitted.prototype_generator_.target_norm_, rel=1e-5
    )
    assert fitted.loss_history_["classifier"].shape == (300,)


def test_scores_classes_given_at_prediction_time(fitted, synthetic_problem):
    task = synthetic_problem.task
    features = synthetic_problem.test_unseen_features[:10]
    np.testing.assert_allclose(
        fitted.decision_function(features, task.class_attributes),
        fitted.decision_function(features),
        rtol=1e-5,
        atol=1e-6,
    )
    extra = np.abs(np.random.default_rng(5).normal(size=(10, 3)))
    assert fitted.decision_function(features, extra).shape == (10, 3)


def test_tcn_baseline_without_prototypes_and_monitor_receives_the_classifier(synthetic_problem):
    calls = []

    def monitor(step, method):
        calls.append(step)
        scores = method.decision_function(synthetic_problem.test_unseen_features)
        return unseen_accuracy(scores, synthetic_problem)

    model = FSIGenZClassifier(
        prototypes={"n_prototypes": 0}, scc={**SMALL_SCC, "n_steps": 40, "eval_every": 20}, preset="paper"
    )
    model.fit(synthetic_problem.task, monitor=monitor)
    assert model.prototypes_.shape == (4, 0, 32) and model.n_synthetic_per_class == 0
    assert calls == [20, 40] and len(model.monitor_history_) == 2


def test_dpsr_disabled_uses_one_hot_targets(synthetic_problem):
    model = FSIGenZClassifier(dpsr={"enabled": False}, scc={**SMALL_SCC, "n_steps": 5})
    model.fit(synthetic_problem.task)
    assert model.similarity_ is None
    assert set(np.unique(model.targets_.targets[~np.isnan(model.targets_.targets)])) == {0.0, 1.0}


def test_given_prototypes_replace_generated_ones(synthetic_problem):
    given = np.random.default_rng(0).normal(size=(4, 3, 32)).astype(np.float32)
    model = FSIGenZClassifier(scc={**SMALL_SCC, "n_steps": 5})
    model.fit(synthetic_problem.task, prototypes=given)
    np.testing.assert_array_equal(model.prototypes_, given)
    assert model.prototype_lambdas_ is None and model.n_synthetic_per_class == 3
    with pytest.raises(ValueError, match=r"prototypes: expected \(L=4, P, d=32\)"):
        model.fit(synthetic_problem.task, prototypes=given[:3])


def test_unknown_setting_is_named(synthetic_problem):
    with pytest.raises(ValueError, match=r"scc: unknown setting\(s\) \['hidden'\]"):
        FSIGenZClassifier(scc={"hidden": 3}).fit(synthetic_problem.task)


def test_generate_prototypes_without_training(fitted, synthetic_problem):
    model = FSIGenZClassifier(scc=SMALL_SCC)
    prototypes, lambdas = model.generate_prototypes(synthetic_problem.task)
    np.testing.assert_array_equal(prototypes, fitted.prototypes_)
    np.testing.assert_array_equal(lambdas, fitted.prototype_lambdas_)
    assert not hasattr(model, "scc_")
    empty, no_lambdas = FSIGenZClassifier(prototypes={"n_prototypes": 0}).generate_prototypes(
        synthetic_problem.task
    )
    assert empty.shape == (4, 0, 32) and no_lambdas.shape == (0,)
