import numpy as np
import pytest

from fsigenz.methods.base import ZeroShotTask
from fsigenz.methods.ncm import NearestClassMeanClassifier
from tests.methods.problems import unseen_accuracy


def test_prototypes_alone_beat_chance(synthetic_problem):
    model = NearestClassMeanClassifier().fit(synthetic_problem.task)
    scores = model.decision_function(synthetic_problem.test_unseen_features)
    assert scores.shape == (len(synthetic_problem.test_unseen_features), 16)
    assert unseen_accuracy(scores, synthetic_problem) >= 0.8  # chance: 0.25


# Two seen classes (indices 0 and 2) with features symmetric about 0, so centring changes nothing;
# unseen class 1 gets the given prototypes (1, 0) and (0, 1).
TASK = ZeroShotTask(
    features=np.array([[2.0, 0.0], [-2.0, 0.0]], dtype=np.float32),
    labels=np.array([0, 2]),
    class_attributes=np.eye(3),
    seen_classes=np.array([0, 2]),
    unseen_classes=np.array([1]),
)
PROTOTYPES = np.array([[[1.0, 0.0], [0.0, 1.0]]], dtype=np.float32)


@pytest.mark.parametrize("aggregate, unseen_score", [("max", 0.8), ("mean", 0.7)])
def test_cosine_scores_by_hand(aggregate, unseen_score):
    model = NearestClassMeanClassifier(aggregate=aggregate).fit(TASK, prototypes=PROTOTYPES)
    # x along (3, 4)/5: cos to mean (2, 0) = 0.6, to (−2, 0) = −0.6, to prototypes 0.6 and 0.8.
    scores = model.decision_function(np.array([[3.0, 4.0]]))
    np.testing.assert_allclose(scores, [[0.6, unseen_score, -0.6]], rtol=1e-6)


def test_euclidean_scores_by_hand():
    model = NearestClassMeanClassifier(metric="euclidean").fit(TASK, prototypes=PROTOTYPES)
    # x = (1, 1): −‖x − (2,0)‖² = −2, −‖x − (−2,0)‖² = −10, prototypes −1 and −1.
    scores = model.decision_function(np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(scores, [[-2.0, -1.0, -10.0]])


def test_needs_prototypes():
    with pytest.raises(ValueError, match="n_prototypes"):
        NearestClassMeanClassifier(prototypes={"n_prototypes": 0}).fit(TASK)
