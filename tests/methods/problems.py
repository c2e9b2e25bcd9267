"""A small synthetic zero-shot problem shared by the method tests."""

from dataclasses import dataclass

import numpy as np

from fsigenz.methods.base import ZeroShotTask


@dataclass(frozen=True)
class SyntheticProblem:
    task: ZeroShotTask
    test_unseen_features: np.ndarray
    test_unseen_labels: np.ndarray


def make_synthetic_problem(
    n_seen: int = 12,
    n_unseen: int = 4,
    n_attributes: int = 10,
    feature_dim: int = 32,
    per_class: int = 30,
    noise: float = 0.5,
    seed: int = 0,
) -> SyntheticProblem:
    """Features = a fixed linear map of the class attributes + an offset + Gaussian noise."""
    rng = np.random.default_rng(seed)
    n_classes = n_seen + n_unseen
    attributes = np.abs(rng.normal(size=(n_attributes, n_classes)))
    attributes /= np.linalg.norm(attributes, axis=0, keepdims=True)
    projection = rng.normal(size=(n_attributes, feature_dim)) * 3.0
    centres = attributes.T @ projection + 2.0  # the offset makes centring matter

    def sample(classes):
        labels = np.repeat(classes, per_class)
        features = centres[labels] + noise * rng.normal(size=(len(labels), feature_dim))
        return features.astype(np.float32), labels.astype(np.int64)

    permutation = rng.permutation(n_classes)  # interleave seen and unseen indices
    seen, unseen = np.sort(permutation[:n_seen]), np.sort(permutation[n_seen:])
    features, labels = sample(seen)
    test_features, test_labels = sample(unseen)
    task = ZeroShotTask(features, labels, attributes, seen, unseen)
    return SyntheticProblem(task, test_features, test_labels)


def unseen_accuracy(scores: np.ndarray, problem: SyntheticProblem) -> float:
    """CZSL per-class mean top-1 accuracy over the unseen columns."""
    unseen = problem.task.unseen_classes
    predicted = unseen[np.argmax(scores[:, unseen], axis=1)]
    truth = problem.test_unseen_labels
    return float(np.mean([np.mean(predicted[truth == c] == c) for c in unseen]))
