import math
import warnings

import numpy as np
import pytest
import torch

from fsigenz.methods.scc import (
    SemanticContrastiveClassifier,
    SemanticContrastiveNetwork,
    grouped_bce_loss,
)
from fsigenz.methods.similarity import build_target_tables, class_similarity

SMALL = dict(encoder_hidden=16, scorer_hidden=16, batch_size=8, device="cpu")


def _training_problem(seed=0, n_classes=6, n_attributes=5, feature_dim=7):
    rng = np.random.default_rng(seed)
    attributes = np.abs(rng.normal(size=(n_attributes, n_classes))).astype(np.float32)
    seen, unseen = np.arange(4), np.arange(4, n_classes)
    classes = np.concatenate([np.repeat(seen, 5), np.repeat(unseen, 2)])
    is_prototype = classes >= 4
    features = rng.normal(size=(len(classes), feature_dim)).astype(np.float32)
    targets = build_target_tables(class_similarity(attributes), seen, unseen)
    return features, classes, is_prototype, attributes, targets


def test_logits_shape_and_gradients_reach_encoder_and_scorer():
    torch.manual_seed(0)  # unseeded, all 3 hidden units are sometimes dead and get no gradient
    network = SemanticContrastiveNetwork(n_attributes=5, feature_dim=7, encoder_hidden=4, scorer_hidden=3)
    logits = network(torch.randn(3, 7), torch.randn(6, 5))
    assert logits.shape == (3, 6)
    logits.sum().backward()
    for name, parameter in network.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_score_equals_explicit_pairwise_formula():
    network = SemanticContrastiveNetwork(5, 7, 4, 3)
    features, class_rows = torch.randn(3, 7), torch.randn(6, 5)
    embeddings = network.encode_classes(class_rows)
    for i in range(3):
        for j in range(6):
            z = features[i] * embeddings[j]
            expected = network.scorer_output(torch.relu(network.scorer_hidden(z)))
            torch.testing.assert_close(network(features, class_rows)[i, j], expected[0])


def test_grouped_loss_by_hand():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.0]])
    targets = torch.tensor([[1.0, 0.5], [0.0, 1.0]])
    seen_group = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    unseen_group = torch.tensor([[0.0, 1.0], [1.0, 1.0]])

    def bce(z, t):
        probability = 1 / (1 + math.exp(-z))
        return -(t * math.log(probability) + (1 - t) * math.log(1 - probability))

    expected = bce(0.0, 1.0) + 0.2 * (bce(2.0, 0.5) + bce(-1.0, 0.0) + bce(0.0, 1.0)) / 3
    loss = grouped_bce_loss(logits, targets, seen_group, unseen_group, beta=0.2)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_chunked_scoring_equals_unchunked():
    features, classes, is_prototype, attributes, targets = _training_problem()
    model = SemanticContrastiveClassifier(n_steps=5, **SMALL).fit(
        features, classes, is_prototype, attributes, targets
    )
    whole = model.decision_function(features)
    assert whole.shape == (len(features), 6) and whole.dtype == np.float32
    for chunk in (1, 4, 13):  # classes split (1, 4) and several samples per chunk (13)
        model.score_chunk_size = chunk
        np.testing.assert_allclose(model.decision_function(features), whole, rtol=1e-5, atol=1e-6)


def test_same_seed_is_bit_for_bit_repeatable():
    problem = _training_problem()
    first = SemanticContrastiveClassifier(n_steps=12, seed=3, **SMALL).fit(*problem)
    second = SemanticContrastiveClassifier(n_steps=12, seed=3, **SMALL).fit(*problem)
    other = SemanticContrastiveClassifier(n_steps=12, seed=4, **SMALL).fit(*problem)
    features = problem[0]
    first_scores = first.decision_function(features)
    np.testing.assert_array_equal(first_scores, second.decision_function(features))
    np.testing.assert_array_equal(first.loss_history_["classifier"], second.loss_history_["classifier"])
    assert not np.array_equal(first_scores, other.decision_function(features))


def test_monitor_calls_history_and_restore_best():
    problem = _training_problem()
    snapshots = {}

    def monitor(step, model):
        snapshots[step] = model.decision_function(problem[0])
        return {5: 0.3, 10: 0.9, 12: 0.1}[step]  # best at step 10

    model = SemanticContrastiveClassifier(n_steps=12, eval_every=5, restore_best=True, **SMALL)
    model.fit(*problem, monitor=monitor)
    assert [step for step, _ in model.monitor_history_] == [5, 10, 12]
    assert model.loss_history_["classifier"].shape == (12,) and np.all(
        np.isfinite(model.loss_history_["classifier"])
    )
    assert model.best_step_ == 10 and model.best_score_ == pytest.approx(0.9)
    np.testing.assert_array_equal(model.decision_function(problem[0]), snapshots[10])


def test_patience_stops_early():
    problem = _training_problem()
    model = SemanticContrastiveClassifier(n_steps=50, eval_every=2, patience=2, **SMALL)
    model.fit(*problem, monitor=lambda step, _: 1.0 if step == 2 else 0.0)
    assert model.n_steps_ == 6 and model.loss_history_["classifier"].shape == (6,)


def test_new_class_columns_can_be_scored():
    features, classes, is_prototype, attributes, targets = _training_problem()
    model = SemanticContrastiveClassifier(n_steps=3, **SMALL).fit(
        features, classes, is_prototype, attributes, targets
    )
    extended = np.concatenate([attributes, np.ones((5, 2), dtype=np.float32)], axis=1)
    scores = model.decision_function(features, extended)
    assert scores.shape == (len(features), 8)
    original = model.decision_function(features)
    np.testing.assert_allclose(scores[:, :6], original, rtol=1e-5, atol=1e-6)


def test_errors_name_the_argument():
    features, classes, is_prototype, attributes, targets = _training_problem()
    with pytest.raises(ValueError, match=r"class_attributes: expected \(m, 6\)"):
        SemanticContrastiveClassifier(**SMALL).fit(
            features, classes, is_prototype, attributes[:, :5], targets
        )
    with pytest.raises(ValueError, match="row 20 is a real sample of class 4"):
        SemanticContrastiveClassifier(**SMALL).fit(
            features, classes, np.zeros_like(is_prototype), attributes, targets
        )
    model = SemanticContrastiveClassifier(n_steps=1, **SMALL).fit(
        features, classes, is_prototype, attributes, targets
    )
    with pytest.raises(ValueError, match=r"features: expected \(N, 7\), got shape \(2, 6\)"):
        model.decision_function(np.zeros((2, 6)))


def test_bf16_autocast_trains_and_scores_in_bfloat16():
    import torch

    from fsigenz.device import bf16_supported

    problem = _training_problem()
    model = SemanticContrastiveClassifier(n_steps=3, use_bf16=True, **SMALL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(*problem)
    supported = bf16_supported(torch.device("cpu"))
    assert model.use_bf16_ is supported
    assert any("use_bf16" in str(w.message) for w in caught) is not supported  # the fallback says so
    scores = model.decision_function(problem[0])
    assert scores.dtype == np.float32 and np.all(np.isfinite(scores))
    assert np.all(np.isfinite(model.loss_history_["classifier"]))
    if not supported:
        pytest.skip("this CPU has no native bfloat16: the float32 fallback was checked")
    # bf16 ran: the scorer's GEMM sees bfloat16 inputs, and the scores differ from a float32 model's
    seen = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, output: seen.append(output.dtype)
    )
    try:
        model.decision_function(problem[0])
    finally:
        handle.remove()
    assert torch.bfloat16 in seen
    float32 = SemanticContrastiveClassifier(n_steps=3, use_bf16=False, **SMALL).fit(*problem)
    assert not np.array_equal(float32.decision_function(problem[0]), scores)


def test_pairwise_scorer_gradients_match_finite_differences():
    """The hand-written backward of the one-GEMM scorer against torch.autograd.gradcheck (float64)."""
    import torch

    from fsigenz.methods.scc import PairwiseScorer, ScoringWorkspace

    generator = torch.Generator().manual_seed(0)

    def tensor(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64, requires_grad=True)

    inputs = (tensor(3, 5), tensor(4, 5), tensor(6, 5), tensor(6), tensor(1, 6), tensor(1))
    assert torch.autograd.gradcheck(lambda *args: PairwiseScorer.apply(*args, None, True), inputs)
    workspace = ScoringWorkspace()
    assert torch.autograd.gradcheck(lambda *args: PairwiseScorer.apply(*args, workspace, True), inputs)


def test_pairwise_scorer_equals_the_plain_network_formula():
    import torch

    from fsigenz.methods.scc import PairwiseScorer

    generator = torch.Generator().manual_seed(1)
    x, e = torch.randn(4, 7, generator=generator), torch.randn(3, 7, generator=generator)
    w_h, b_h = torch.randn(5, 7, generator=generator), torch.randn(5, generator=generator)
    w_o, b_o = torch.randn(1, 5, generator=generator), torch.randn(1, generator=generator)
    expected = torch.relu((x[:, None, :] * e[None, :, :]) @ w_h.T + b_h) @ w_o.T + b_o
    with torch.no_grad():
        logits = PairwiseScorer.apply(x, e, w_h, b_h, w_o, b_o, None, False)
    torch.testing.assert_close(logits, expected[..., 0])


def test_num_threads_applies_inside_and_is_restored_after():
    import torch

    from fsigenz.methods.scc import SemanticContrastiveClassifier

    before = torch.get_num_threads()
    model = SemanticContrastiveClassifier(
        encoder_hidden=8, scorer_hidden=8, n_steps=2, num_threads=2, device="cpu"
    )
    with model._threads():
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


def test_cuda_graph_option_is_ignored_on_cpu_and_validated():
    problem = _training_problem()
    model = SemanticContrastiveClassifier(**SMALL, n_steps=3, use_cuda_graph=True).fit(*problem)
    assert model.cuda_graph_batch_lengths_ == []
    with pytest.raises(ValueError, match="use_cuda_graph: expected true or false"):
        SemanticContrastiveClassifier(**SMALL, use_cuda_graph="yes").fit(*problem)


requires_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device (the CUDA-graph training step)"
)


@requires_cuda
@pytest.mark.parametrize("use_bf16", [False, True])
def test_cuda_graph_training_takes_the_same_steps_as_eager(use_bf16):
    # 24 rows in batches of 7: every epoch ends with a 3-row batch, so both batch lengths are
    # captured; the monitor, restore_best and patience run between replays.
    features, classes, is_prototype, attributes, targets = _training_problem(feature_dim=16)
    settings = dict(
        SMALL,
        device="cuda",
        batch_size=7,
        n_steps=60,
        eval_every=5,
        restore_best=True,
        patience=50,
        use_bf16=use_bf16,
    )
    monitor_values = {}

    def fit(use_cuda_graph):
        model = SemanticContrastiveClassifier(**settings, use_cuda_graph=use_cuda_graph)
        history = []

        def monitor(step, scc):
            scores = scc.decision_function(features)
            history.append(float((scores.argmax(1) == classes).mean()))
            return history[-1]

        model.fit(features, classes, is_prototype, attributes, targets, monitor=monitor)
        monitor_values[use_cuda_graph] = history
        return model

    eager, graphed = fit(False), fit(True)
    assert eager.cuda_graph_batch_lengths_ == []
    assert graphed.cuda_graph_batch_lengths_ == [3, 7]
    assert graphed.n_steps_ == eager.n_steps_ == 60
    tolerance = 2e-2 if use_bf16 else 1e-4  # the same kernels; bf16 leaves room for GEMM algorithms
    np.testing.assert_allclose(
        graphed.loss_history_["classifier"], eager.loss_history_["classifier"], rtol=tolerance, atol=1e-5
    )
    np.testing.assert_allclose(  # accuracies: within one sample
        monitor_values[True], monitor_values[False], atol=1 / len(classes) + 1e-9
    )
    np.testing.assert_allclose(
        graphed.decision_function(features),
        eager.decision_function(features),
        rtol=tolerance,
        atol=tolerance,
    )
