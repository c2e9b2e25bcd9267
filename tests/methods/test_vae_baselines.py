"""CADA-VAE and TF-VAEGAN on the small synthetic problem of the f-CLSWGAN tests (test_fclswgan.py).

Each is checked for its output shapes, bit-for-bit determinism with a seed, learning well above chance on
the unseen classes, the early-stopping contract (``monitor`` every ``eval_every`` steps) and a clear error
for bad input. Settings are small so that each fit takes seconds on one CPU thread.
"""

from __future__ import annotations

import numpy as np
import pytest

from fsigenz.methods.cadavae import CADAVAEClassifier, warmup_weight
from fsigenz.methods.registry import build_method
from fsigenz.methods.tfvaegan import TFVAEGANClassifier
from tests.methods.test_fclswgan import FEATURE_DIM, N_SEEN, N_UNSEEN, make_problem, per_class_accuracy

FAST = {
    "cadavae": dict(
        feature_encoder_hidden=128,
        feature_decoder_hidden=128,
        attribute_encoder_hidden=64,
        attribute_decoder_hidden=64,
        latent_dim=16,
        epochs=25,
        learning_rate=1e-3,
        batch_size=64,
        n_latent_per_seen_class=50,
        n_latent_per_unseen_class=100,
        classifier_epochs=5,
        device="cpu",
    ),
    "tfvaegan": dict(
        generator_hidden_dim=128,
        critic_hidden_dim=128,
        encoder_hidden_dim=128,
        semantic_decoder_hidden_dim=64,
        gan_learning_rate=3e-3,
        generator_steps=200,
        n_critic=3,
        n_synthetic_per_class=100,
        seen_classifier_epochs=2,
        classifier_epochs=5,
        device="cpu",
    ),
}
TINY = {
    "cadavae": dict(
        feature_encoder_hidden=16,
        feature_decoder_hidden=16,
        attribute_encoder_hidden=16,
        attribute_decoder_hidden=16,
        latent_dim=4,
        epochs=2,
        n_latent_per_seen_class=5,
        n_latent_per_unseen_class=10,
        classifier_epochs=1,
        device="cpu",
    ),
    "tfvaegan": dict(
        generator_hidden_dim=16,
        critic_hidden_dim=16,
        encoder_hidden_dim=16,
        semantic_decoder_hidden_dim=8,
        generator_steps=5,
        n_critic=2,
        seen_classifier_epochs=1,
        n_synthetic_per_class=10,
        classifier_epochs=1,
        device="cpu",
    ),
}
CLASSES = {"cadavae": CADAVAEClassifier, "tfvaegan": TFVAEGANClassifier}
METHODS = sorted(FAST)


@pytest.fixture(scope="module")
def problem():
    return make_problem()


@pytest.fixture(scope="module")
def fitted(problem):
    task, _, _ = problem
    return {name: build_method(name, FAST[name]).fit(task) for name in METHODS}


@pytest.mark.parametrize("name", METHODS)
def test_registry_builds_the_method(name):
    assert type(build_method(name, {})) is CLASSES[name]


@pytest.mark.parametrize("name", METHODS)
def test_decision_function_scores_every_task_class(fitted, problem, name):
    _, test_features, _ = problem
    scores = fitted[name].decision_function(test_features)
    assert scores.shape == (test_features.shape[0], N_SEEN + N_UNSEEN)
    assert scores.dtype == np.float32 and np.isfinite(scores).all()
    assert fitted[name].decision_function(test_features[:0]).shape == (0, N_SEEN + N_UNSEEN)


@pytest.mark.parametrize("name", METHODS)
def test_unseen_accuracy_is_far_above_chance(fitted, problem, name):
    task, test_features, test_labels = problem
    scores = fitted[name].decision_function(test_features)
    unseen = np.sort(task.unseen_classes)
    czsl = per_class_accuracy(unseen[np.argmax(scores[:, unseen], axis=1)], test_labels)
    assert czsl > 0.5, f"{name}: CZSL per-class accuracy {czsl:.3f}, chance is {1 / N_UNSEEN:.2f}"


def test_cadavae_latent_training_set_and_losses(fitted, problem):
    task, _, _ = problem
    method, settings = fitted["cadavae"], FAST["cadavae"]
    assert method.classifier_.in_features == settings["latent_dim"]
    assert method.n_synthetic_per_class == settings["n_latent_per_unseen_class"]
    steps_per_epoch = int(np.ceil(task.features.shape[0] / settings["batch_size"]))
    history = method.loss_history_
    for name in ("vae", "reconstruction", "kl_divergence", "cross_reconstruction", "distribution_alignment"):
        assert history[name].shape == (settings["epochs"] * steps_per_epoch,)
        assert history[name].dtype == np.float64
    # the VAEs learn to reconstruct, and the warm-ups align them: each term falls from its first epoch
    for name in ("reconstruction", "cross_reconstruction", "distribution_alignment"):
        first, last = history[name][:steps_per_epoch].mean(), history[name][-steps_per_epoch:].mean()
        assert last < 0.8 * first, f"{name}: {first:.2f} -> {last:.2f}"
    latent_rows = (
        N_SEEN * settings["n_latent_per_seen_class"] + N_UNSEEN * settings["n_latent_per_unseen_class"]
    )
    classifier_steps = settings["classifier_epochs"] * int(np.ceil(latent_rows / 32))
    assert method.loss_history_["classifier"].shape == (classifier_steps,)
    assert {"vae_training", "latent_sampling", "classifier_training"} <= set(method.timings_)


def test_tfvaegan_classifier_reads_feature_and_semantic_embedding(fitted):
    method, settings = fitted["tfvaegan"], FAST["tfvaegan"]
    assert method.classifier_.in_features == FEATURE_DIM + settings["semantic_decoder_hidden_dim"]
    assert method.synthetic_features_.shape == (settings["n_synthetic_per_class"] * N_UNSEEN, FEATURE_DIM)
    for name in ("vae", "semantic_reconstruction", "critic", "generator_adversarial"):
        assert method.loss_history_[name].shape == (settings["generator_steps"],)
    semantic = method.loss_history_["semantic_reconstruction"]
    assert semantic[-20:].mean() < 0.5 * semantic[:5].mean(), "the semantic decoder does not learn"
    assert method.classification_loss_weight == 0.0  # the paper's generator has no classification loss


def test_tfvaegan_feedback_changes_the_generated_features(problem):
    task, _, _ = problem
    with_feedback = build_method("tfvaegan", {**TINY["tfvaegan"], "seed": 1}).fit(task)
    without = build_method("tfvaegan", {**TINY["tfvaegan"], "seed": 1, "feedback_weight": 0.0}).fit(task)
    assert not np.allclose(with_feedback.synthetic_features_, without.synthetic_features_)


@pytest.mark.parametrize("name", METHODS)
def test_same_seed_gives_identical_scores(problem, name):
    task, test_features, _ = problem
    first = build_method(name, {**TINY[name], "seed": 3}).fit(task).decision_function(test_features)
    again = build_method(name, {**TINY[name], "seed": 3}).fit(task).decision_function(test_features)
    other = build_method(name, {**TINY[name], "seed": 4}).fit(task).decision_function(test_features)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("name", METHODS)
def test_monitor_is_called_every_eval_every_steps_and_at_the_end(problem, name):
    task, _, _ = problem
    calls = []

    def monitor(step, method):
        assert method.decision_function(task.features[:3]).shape == (3, N_SEEN + N_UNSEEN)
        calls.append(step)
        return step / 100

    settings = {**TINY[name], "classifier_steps": 40, "eval_every": 15}
    method = build_method(name, settings).fit(task, monitor=monitor)
    assert calls == [15, 30, 40]
    assert method.monitor_history_ == [(15, 0.15), (30, 0.3), (40, 0.4)]
    assert method.best_step_ == 40 and len(method.loss_history_["classifier"]) == 40


@pytest.mark.parametrize("name", METHODS)
def test_patience_stops_the_classifier_early(problem, name):
    task, _, _ = problem
    settings = {**TINY[name], "classifier_steps": 100, "eval_every": 10, "patience": 2}
    method = build_method(name, settings).fit(task, monitor=lambda step, method: -step)  # never improves
    assert [step for step, _ in method.monitor_history_] == [10, 20, 30]
    assert method.best_step_ == 10 and len(method.loss_history_["classifier"]) == 30


@pytest.mark.parametrize(
    "name, parameter, value",
    [
        ("cadavae", "epochs", 0),
        ("cadavae", "cross_reconstruction_warmup", (0.5, 0.2)),
        ("cadavae", "distribution_alignment_weight", -1.0),
        ("tfvaegan", "feedback_weight", -1.0),
        ("tfvaegan", "semantic_decoder_hidden_dim", 0),
        ("tfvaegan", "gan_learning_rate", 0.0),
    ],
)
def test_invalid_hyperparameter_names_itself(problem, name, parameter, value):
    task, _, _ = problem
    with pytest.raises(ValueError, match=f"^{parameter}: expected"):
        build_method(name, {**TINY[name], parameter: value}).fit(task)


@pytest.mark.parametrize("name", METHODS)
def test_decision_function_rejects_a_feature_dimension_mismatch(fitted, name):
    with pytest.raises(ValueError, match=rf"expected an \(N, {FEATURE_DIM}\) matrix"):
        fitted[name].decision_function(np.zeros((2, FEATURE_DIM + 1), dtype=np.float32))


def test_warmup_follows_the_published_schedule_at_100_epochs():
    # distribution alignment: 0 up to epoch 6, 8.13 from epoch 22 (Schönfeld et al. 2019)
    window = (0.06, 0.22)
    assert warmup_weight(6, 100, 8.13, window) == 0.0
    assert warmup_weight(14, 100, 8.13, window) == pytest.approx(8.13 / 2)
    assert warmup_weight(22, 100, 8.13, window) == pytest.approx(8.13)
    assert warmup_weight(90, 100, 8.13, window) == pytest.approx(8.13)
    # a 20-epoch schedule keeps the shape: the same fractions of its epochs
    assert warmup_weight(2, 20, 2.37, (0.21, 0.75)) == 0.0
    assert warmup_weight(15, 20, 2.37, (0.21, 0.75)) == pytest.approx(2.37)


@pytest.mark.parametrize(
    "name, stages",
    [("cadavae", ["vae", "classifier"]), ("tfvaegan", ["seen_classifier", "gan", "classifier"])],
)
def test_training_reports_its_stages_and_watching_changes_nothing(problem, name, stages):
    from fsigenz.progress import ProgressDisplay, observed_by
    from tests.test_progress import RecordingObserver

    task, test_features, _ = problem
    recorder = RecordingObserver()
    with observed_by(recorder):
        watched = build_method(name, {**TINY[name], "seed": 2}).fit(task)
    assert recorder.stages() == stages
    for stage in stages:
        steps = [event[2] for event in recorder.of("step", stage)]
        assert steps == list(range(1, len(steps) + 1)) and steps
    with observed_by(ProgressDisplay("off")):
        quiet = build_method(name, {**TINY[name], "seed": 2}).fit(task)
    np.testing.assert_array_equal(
        watched.decision_function(test_features), quiet.decision_function(test_features)
    )
