"""FeatureGeneratingGANClassifier (f-CLSWGAN) on a small synthetic zero-shot problem.

The problem: nonnegative random class attributes, class means a fixed random linear map of the attributes,
features = class mean + Gaussian noise. Because the attribute → mean map is shared by all classes, a generator
conditioned on attributes and trained on seen classes can synthesise usable unseen-class features.
"""

from __future__ import annotations

import numpy as np
import pytest

from fsigenz.methods.base import ZeroShotTask
from fsigenz.methods.fclswgan import FeatureGeneratingGANClassifier

N_SEEN, N_UNSEEN = 30, 10
FEATURE_DIM, ATTRIBUTE_DIM = 64, 24
TRAIN_PER_CLASS, TEST_PER_CLASS = 60, 30
MEAN_SCALE, NOISE_STD = 3.0, 1.0

# Small nets and a larger GAN learning rate than the paper's 1e-4, which needs thousands of generator steps:
# here a few hundred converge (about 3 s on two cores).
FAST_SETTINGS = dict(
    generator_hidden_dim=128,
    critic_hidden_dim=128,
    gan_learning_rate=3e-3,
    generator_steps=400,
    n_synthetic_per_class=100,
    device="cpu",
)
# Enough to exercise every stage; not meant to learn anything.
TINY_SETTINGS = dict(
    generator_hidden_dim=32,
    critic_hidden_dim=32,
    generator_steps=20,
    seen_classifier_epochs=1,
    n_synthetic_per_class=20,
    classifier_epochs=2,
    device="cpu",
)


def make_problem(seed: int = 0) -> tuple[ZeroShotTask, np.ndarray, np.ndarray]:
    """Training task on the seen classes, and test features / labels of the unseen classes."""
    rng = np.random.default_rng(seed)
    n_classes = N_SEEN + N_UNSEEN
    class_attributes = rng.uniform(0.0, 1.0, size=(ATTRIBUTE_DIM, n_classes)).astype(np.float32)
    attribute_to_mean = rng.normal(size=(FEATURE_DIM, ATTRIBUTE_DIM)) / np.sqrt(ATTRIBUTE_DIM)
    class_means = MEAN_SCALE * (attribute_to_mean @ class_attributes).T  # (C, d)
    order = rng.permutation(n_classes)
    seen_classes, unseen_classes = np.sort(order[:N_SEEN]), np.sort(order[N_SEEN:])

    def draw(classes: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(classes, per_class)
        features = class_means[labels] + NOISE_STD * rng.normal(size=(labels.size, FEATURE_DIM))
        return features.astype(np.float32), labels.astype(np.int64)

    train_features, train_labels = draw(seen_classes, TRAIN_PER_CLASS)
    test_features, test_labels = draw(unseen_classes, TEST_PER_CLASS)
    task = ZeroShotTask(train_features, train_labels, class_attributes, seen_classes, unseen_classes)
    return task, test_features, test_labels


def per_class_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in np.unique(labels)]))


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(single_torch_thread):
    """Every test of this module runs on one torch thread (tests/conftest.py)."""


@pytest.fixture(scope="module")
def problem() -> tuple[ZeroShotTask, np.ndarray, np.ndarray]:
    return make_problem()


@pytest.fixture(scope="module")
def fitted(problem) -> FeatureGeneratingGANClassifier:
    task, _, _ = problem
    return FeatureGeneratingGANClassifier(seed=0, **FAST_SETTINGS).fit(task)


def test_decision_function_scores_every_task_class(fitted, problem):
    _, test_features, _ = problem
    scores = fitted.decision_function(test_features)
    assert scores.shape == (test_features.shape[0], N_SEEN + N_UNSEEN)
    assert scores.dtype == np.float32 and np.isfinite(scores).all()


def test_unseen_accuracy_is_far_above_chance(fitted, problem):
    task, test_features, test_labels = problem
    scores = fitted.decision_function(test_features)
    unseen = task.unseen_classes
    czsl_accuracy = per_class_accuracy(unseen[scores[:, unseen].argmax(axis=1)], test_labels)
    assert czsl_accuracy > 0.5, f"CZSL per-class accuracy {czsl_accuracy:.3f}, chance is {1 / N_UNSEEN:.2f}"


def test_synthesises_n_per_unseen_class(fitted, problem):
    task, _, _ = problem
    n_per_class = FAST_SETTINGS["n_synthetic_per_class"]
    assert fitted.synthetic_features_.shape == (n_per_class * N_UNSEEN, FEATURE_DIM)
    classes, counts = np.unique(fitted.synthetic_labels_, return_counts=True)
    np.testing.assert_array_equal(classes, np.sort(task.unseen_classes))
    assert (counts == n_per_class).all()


def test_records_timings_and_losses(fitted):
    assert {"generator_training", "synthesis", "classifier_training"} <= set(fitted.timings_)
    assert all(seconds >= 0 for seconds in fitted.timings_.values())
    for name in (
        "critic",
        "wasserstein_distance",
        "gradient_penalty",
        "generator_adversarial",
        "generator_classification",
    ):
        assert len(fitted.loss_history_[name]) == FAST_SETTINGS["generator_steps"]
    # The final classifier learns: its loss falls from about log(C).
    classifier_loss = fitted.loss_history_["classifier"]
    assert classifier_loss[-1] < 0.5 * classifier_loss[0]


def test_same_seed_gives_identical_scores(problem):
    task, test_features, _ = problem
    first = FeatureGeneratingGANClassifier(seed=7, **TINY_SETTINGS).fit(task).decision_function(test_features)
    again = FeatureGeneratingGANClassifier(seed=7, **TINY_SETTINGS).fit(task).decision_function(test_features)
    other = FeatureGeneratingGANClassifier(seed=8, **TINY_SETTINGS).fit(task).decision_function(test_features)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_monitor_is_called_every_eval_every_steps_and_at_the_end(problem):
    task, _, _ = problem
    calls = []

    def monitor(step, method):
        calls.append(step)
        assert method.decision_function(task.features[:3]).shape == (3, N_SEEN + N_UNSEEN)
        return step / 100

    # 40 steps: more than TINY_SETTINGS' 2 epochs (2 x 16 batches of 128 rows); classifier_steps takes
    # precedence.
    settings = {**TINY_SETTINGS, "classifier_steps": 40, "eval_every": 15}
    method = FeatureGeneratingGANClassifier(**settings).fit(task, monitor=monitor)
    assert calls == [15, 30, 40]
    assert method.monitor_history_ == [(15, 0.15), (30, 0.3), (40, 0.4)]
    assert len(method.loss_history_["classifier"]) == 40


def test_decision_function_rejects_a_feature_dimension_mismatch(fitted, problem):
    _, test_features, _ = problem
    with pytest.raises(ValueError, match=r"features: expected an \(N, 64\) matrix.*got shape \(300, 63\)"):
        fitted.decision_function(test_features[:, :-1])


def test_unknown_output_activation_is_rejected(problem):
    task, _, _ = problem
    with pytest.raises(ValueError, match=r"generator_output_activation: expected one of .*got 'softplus'"):
        FeatureGeneratingGANClassifier(generator_output_activation="softplus", **TINY_SETTINGS).fit(task)
