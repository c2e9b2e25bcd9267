"""ZeroShotTask validates itself: every method gets a checked task, with one message per field."""

import dataclasses

import numpy as np
import pytest

from fsigenz.methods.base import ZeroShotTask
from tests.methods.problems import make_synthetic_problem

TASK = make_synthetic_problem(n_seen=30, n_unseen=10, per_class=3).task  # C = 40, N = 90


@pytest.mark.parametrize(
    "change, message",
    [
        # (C, m) instead of (m, C): the attribute dimension is read as the number of classes.
        (
            lambda t: {"class_attributes": np.zeros((40, 10))},
            r"task\.class_attributes: expected \(m, 40\).*transposed",
        ),
        (
            lambda t: {"class_attributes": t.class_attributes[:, :-1]},
            r"task\.class_attributes: expected \(m, 40\)",
        ),
        (lambda t: {"labels": t.labels[:-1]}, r"task\.labels: expected \(90,\)"),
        (lambda t: {"labels": t.labels.astype(float)}, r"task\.labels: .*integer"),
        (lambda t: {"features": t.features[0]}, r"task\.features: expected a non-empty \(N, d\) matrix"),
        (
            lambda t: {"labels": np.where(t.labels == t.labels[0], t.unseen_classes[0], t.labels)},
            r"task\.labels: expected only seen classes",
        ),
        (lambda t: {"unseen_classes": np.append(t.unseen_classes[1:], t.seen_classes[0])}, r"exactly once"),
        (
            lambda t: {"seen_classes": t.seen_classes + 100},
            r"task\.seen_classes: expected indices in \[0, 40\)",
        ),
        (
            lambda t: {"features": np.where(np.arange(t.features.shape[1]) == 0, np.nan, t.features)},
            r"expected finite values",
        ),
    ],
)
def test_an_invalid_task_is_refused_naming_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TASK, **change(TASK))


def test_a_valid_task_holds_canonical_dtypes():
    task = ZeroShotTask(
        TASK.features.astype(np.float64),
        TASK.labels.astype(np.int32),
        TASK.class_attributes.astype(np.float32),
        list(TASK.seen_classes),
        TASK.unseen_classes.astype(np.int16),
    )
    assert task.features.dtype == np.float32 and task.labels.dtype == np.int64
    assert task.class_attributes.dtype == np.float64
    assert task.seen_classes.dtype == task.unseen_classes.dtype == np.int64
    np.testing.assert_array_equal(task.labels, TASK.labels)


def test_a_task_without_unseen_classes_is_valid():
    seen = np.arange(40)
    task = ZeroShotTask(
        TASK.features, seen[TASK.labels % 40], TASK.class_attributes, seen, np.array([], dtype=int)
    )
    assert task.unseen_classes.shape == (0,) and task.seen_mask.all()
