"""The default classifier (preset "anchored") and the paper's (preset "paper"): docs/method.md,
"The default classifier"."""

import numpy as np
import pytest
import torch

from fsigenz.methods.fsigenz import PRESETS, FSIGenZClassifier
from fsigenz.methods.ncm import NearestClassMeanClassifier
from fsigenz.methods.prototype_scores import ReferenceScores, reference_scores
from fsigenz.methods.scc.loss import soft_target_cross_entropy
from tests.methods.problems import unseen_accuracy

TINY_SCC = dict(encoder_hidden=16, scorer_hidden=16, batch_size=32, n_steps=40, device="cpu", num_threads=1)


def test_paper_preset_is_the_published_method_bit_for_bit(synthetic_problem):
    """Scores and losses recorded from the code before the anchored default existed (commit caf9604,
    same problem and settings): the paper preset must keep reproducing them exactly."""
    model = FSIGenZClassifier(scc=TINY_SCC, preset="paper").fit(synthetic_problem.task)
    scores = model.decision_function(synthetic_problem.test_unseen_features[:1])
    recorded_scores = [
        -0.08603457361459732,
        -0.06751573085784912,
        -0.09485963732004166,
        -0.0890684649348259,
        -0.05033960938453674,
        -0.09542562812566757,
        -0.09880366176366806,
        -0.059981442987918854,
        -0.059443436563014984,
        -0.06877635419368744,
        -0.07822123914957047,
        -0.07039199024438858,
        -0.09977883845567703,
        -0.07978459447622299,
        -0.06844531744718552,
        -0.07463517785072327,
    ]
    recorded_losses = [0.8012152910232544, 0.8056451678276062, 0.8019953966140747]
    assert scores.ravel().tolist() == recorded_scores
    assert model.loss_history_["classifier"][-3:].tolist() == recorded_losses


def test_anchored_model_before_training_is_the_nearest_class_mean_scorer(synthetic_problem):
    task = synthetic_problem.task
    anchored = FSIGenZClassifier(scc={**TINY_SCC, "n_steps": 0}, anchor={"scale": 7.0}).fit(task)
    ncm = NearestClassMeanClassifier().fit(task)
    features = synthetic_problem.test_unseen_features
    np.testing.assert_allclose(
        anchored.decision_function(features), 7.0 * ncm.decision_function(features), atol=1e-5
    )


def test_anchored_training_keeps_the_prototypes_useful(synthetic_problem):
    model = FSIGenZClassifier(scc={**TINY_SCC, "n_steps": 200}).fit(synthetic_problem.task)
    assert model.anchor_["enabled"] and model.scc_.loss == "softmax"
    assert (
        unseen_accuracy(model.decision_function(synthetic_problem.test_unseen_features), synthetic_problem)
        >= 0.6
    )


def test_presets_set_their_keys_and_explicit_settings_win(synthetic_problem):
    model = FSIGenZClassifier(scc={**TINY_SCC, "n_steps": 1, "loss": "grouped_bce"}, preset="anchored")
    model.fit(synthetic_problem.task)
    assert model.scc_.loss == "grouped_bce"  # explicit
    assert model.scc_.sampling == PRESETS["anchored"]["scc"]["sampling"] == "class_balanced"
    assert model.scc_.prototype_variation is True and model.anchor_["enabled"] is True
    paper = FSIGenZClassifier(scc={**TINY_SCC, "n_steps": 1}, preset="paper").fit(synthetic_problem.task)
    assert (paper.scc_.loss, paper.scc_.sampling, paper.anchor_["enabled"]) == (
        "grouped_bce",
        "uniform",
        False,
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(preset="papr"), r"preset: expected one of \['anchored', 'paper'\], got 'papr'"),
        (dict(anchor={"scale": 0}), r"anchor.scale: expected a number > 0, got 0"),
        (dict(anchor={"metric": "dot"}), r"anchor.metric: expected one of \['cosine', 'euclidean'\]"),
        (dict(anchor={"sharpness": 1}), r"anchor: unknown setting\(s\) \['sharpness'\]"),
        (dict(scc={**TINY_SCC, "loss": "hinge"}), r"loss: expected one of \['grouped_bce', 'softmax'\]"),
        (
            dict(scc={**TINY_SCC, "sampling": "random"}),
            r"sampling: expected one of \['uniform', 'class_balanced'\]",
        ),
        (dict(prototypes={"n_prototypes": 0}), r"anchor.enabled: the anchored classifier needs prototypes"),
    ],
)
def test_bad_settings_are_named(synthetic_problem, settings, message):
    with pytest.raises(ValueError, match=message):
        FSIGenZClassifier(**{"scc": TINY_SCC, **settings}).fit(synthetic_problem.task)


def test_soft_target_cross_entropy_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    targets = torch.tensor([[1.0, 0.0, 0.6]])  # own class 0, similarity mass 0.6 on class 2
    loss = soft_target_cross_entropy(logits, targets, torch.tensor([0]), beta=0.5)
    distribution = np.array([1.0, 0.0, 0.3]) / 1.3
    log_softmax = np.array([2.0, 0.0, -1.0]) - np.log(np.exp([2.0, 0.0, -1.0]).sum())
    assert loss.item() == pytest.approx(-(distribution * log_softmax).sum(), rel=1e-6)


def test_reference_scores_by_hand():
    means = np.array([[1.0, 0.0], [0.0, 2.0]])
    prototypes = np.array([[[1.0, 1.0], [-1.0, 0.0]]])  # one unseen class, two prototypes
    rows = np.array([[3.0, 0.0]])
    scores = reference_scores(rows, means, np.array([0, 2]), prototypes, np.array([1]), "cosine", "max")
    np.testing.assert_allclose(scores, [[1.0, np.sqrt(0.5), 0.0]], atol=1e-6)
    mean_scores = reference_scores(
        rows, means, np.array([0, 2]), prototypes, np.array([1]), "euclidean", "mean"
    )
    np.testing.assert_allclose(mean_scores, [[-4.0, -(5.0 + 16.0) / 2, -13.0]], atol=1e-5)
    module = ReferenceScores(means, np.array([0, 2]), prototypes, np.array([1]), scale=3.0)
    np.testing.assert_allclose(
        module(torch.tensor(rows, dtype=torch.float32)).numpy(), 3.0 * scores, atol=1e-6
    )
    # inside the SCC's bf16 autocast (scc.use_bf16) the anchor stays in float32
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        autocast_scores = module(torch.tensor(rows, dtype=torch.bfloat16))
    assert autocast_scores.dtype == torch.float32
    np.testing.assert_allclose(autocast_scores.numpy(), 3.0 * scores, atol=1e-2)


def test_class_balanced_batches_draw_every_class_alike():
    from fsigenz.methods.scc import SemanticContrastiveClassifier

    classes = np.array([0] * 90 + [1] * 9 + [2])  # 90 : 9 : 1 rows
    scc = SemanticContrastiveClassifier(batch_size=100, sampling="class_balanced", device="cpu")
    scc.device_ = torch.device("cpu")
    batches = scc._batch_order(classes, np.zeros(100, dtype=bool))
    drawn = np.concatenate([next(batches).numpy() for _ in range(30)])
    shares = np.bincount(classes[drawn], minlength=3) / drawn.size
    np.testing.assert_allclose(shares, 1 / 3, atol=0.03)


def test_prototype_rows_borrow_real_offsets(synthetic_problem):
    """With prototype_variation each batch pairs rows with real donor rows; real rows are unchanged."""
    from fsigenz.methods.scc.estimator import _offsets_from_class_means

    features = np.array([[0.0, 0.0], [2.0, 2.0], [5.0, 5.0]], dtype=np.float32)
    offsets = _offsets_from_class_means(features, np.array([0, 0, 1]), np.array([False, False, True]))
    np.testing.assert_allclose(offsets, [[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])
    model = FSIGenZClassifier(scc={**TINY_SCC, "n_steps": 3}).fit(synthetic_problem.task)
    batch = next(model.scc_._batch_order(np.array([0, 0, 1]), np.array([False, False, True])))
    assert batch.shape == (3, 2) and set(batch[:, 1].tolist()) <= {0, 1}


def test_scoring_given_classes_matches_the_fitted_ones(synthetic_problem):
    task = synthetic_problem.task
    model = FSIGenZClassifier(scc={**TINY_SCC, "n_steps": 20}).fit(task)
    features = synthetic_problem.test_unseen_features[:7]
    np.testing.assert_allclose(
        model.decision_function(features, task.class_attributes), model.decision_function(features), atol=1e-4
    )
