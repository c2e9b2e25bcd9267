"""Baselines through the same protocol: TCN beats chance (the others are covered in tests/methods), and
the evaluation report carries each method's costs."""

import numpy as np

from fsigenz.methods.base import ZeroShotTask
from fsigenz.methods.fsigenz import FSIGenZClassifier
from fsigenz.model import ZeroShotClassifier
from fsigenz.pipelines.evaluation.nodes import evaluate_on_test, score_test_split


def linear_problem(n_seen=12, n_unseen=4, n_attributes=10, dim=32, per_class=30, seed=0):
    """Features = a fixed linear map of the class attributes + noise: the textbook zero-shot assumption."""
    rng = np.random.default_rng(seed)
    attributes = np.abs(rng.normal(size=(n_attributes, n_seen + n_unseen)))
    centres = attributes.T @ rng.normal(size=(n_attributes, dim)) * 3.0 + 2.0
    labels = np.repeat(np.arange(n_seen + n_unseen), per_class)
    features = (centres[labels] + 0.5 * rng.normal(size=(len(labels), dim))).astype(np.float32)
    seen = labels < n_seen
    task = ZeroShotTask(
        features[seen], labels[seen], attributes, np.arange(n_seen), np.arange(n_seen, n_seen + n_unseen)
    )
    return task, features[~seen], labels[~seen]


def test_tcn_without_prototypes_beats_chance(single_torch_thread):
    task, unseen_features, unseen_labels = linear_problem()
    tcn = FSIGenZClassifier(
        preset="paper",
        prototypes={"n_prototypes": 0},
        scc={"encoder_hidden": 64, "scorer_hidden": 64, "batch_size": 32, "n_steps": 300, "device": "cpu"},
    ).fit(task)
    assert tcn.n_synthetic_per_class == 0 and tcn.prototypes_.shape[1] == 0
    scores = tcn.decision_function(unseen_features)[:, task.unseen_classes]
    predicted = task.unseen_classes[np.argmax(scores, axis=1)]
    accuracy = np.mean([np.mean(predicted[unseen_labels == c] == c) for c in task.unseen_classes])
    assert accuracy >= 0.6, f"TCN CZSL per-class accuracy {accuracy:.2f}, chance 0.25"


class _PrototypeMethod:
    """Scores with a fixed random matrix; keeps (L, P, d) prototypes and timings like NCM / f-CLSWGAN do."""

    def __init__(self, n_classes, n_unseen, n_per_class, dim):
        self.n_classes = n_classes
        self.prototypes_ = np.zeros((n_unseen, n_per_class, dim), dtype=np.float32)
        self.timings_ = {"generator_training": 1.25, "synthesis": 0.5}

    def decision_function(self, features):
        return np.random.default_rng(0).normal(size=(len(features), self.n_classes))


def test_ncm_declares_its_prototypes_per_class(small_synthetic):
    from fsigenz.methods.ncm import NearestClassMeanClassifier
    from fsigenz.protocol import final_protocol

    ncm = NearestClassMeanClassifier(prototypes={"n_prototypes": 7})
    assert ncm.n_synthetic_per_class == 7
    assert ncm.fit(final_protocol(small_synthetic).task).n_synthetic_per_class == 7


def test_evaluation_reports_prototypes_per_class_and_method_timings(small_synthetic):
    estimator = _PrototypeMethod(
        small_synthetic.n_classes, small_synthetic.unseen_classes.size, 7, small_synthetic.feature_dim
    )
    model = ZeroShotClassifier(
        "ncm",
        estimator,
        small_synthetic.class_names,
        small_synthetic.seen_classes,
        small_synthetic.unseen_classes,
        metadata={"n_synthetic_per_class": 7, "selection_seconds": 0.1, "training_seconds": 2.0},
    )
    selection = {"best_step": 0, "setting": {}, "curves": []}
    report, history = evaluate_on_test(score_test_split(small_synthetic, model), model, selection)
    assert report["n_synthetic_per_class"] == 7
    assert report["seconds_generator_training"] == 1.25 and report["seconds_synthesis"] == 0.5
    assert history["seconds_generator_training"] == {"value": 1.25, "step": 0}
    assert {"czsl_top1", "gzsl_unseen", "gzsl_seen", "gzsl_h"} <= set(report)
