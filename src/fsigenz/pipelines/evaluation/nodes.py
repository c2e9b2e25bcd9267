"""Nodes of the evaluation pipeline: the test split, scored once, with the γ chosen on validation."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.evaluation.scored_split import ScoredSplit
from fsigenz.experiments.figures import seen_unseen_figure
from fsigenz.experiments.published import describe_data
from fsigenz.methods.early_stopping import MONITORED_LOSS
from fsigenz.methods.registry import method_spec
from fsigenz.model import ZeroShotClassifier
from fsigenz.protocol import final_protocol

CURVE_METRICS = ("gzsl_h", "gzsl_unseen", "gzsl_seen", "czsl_top1")
LOSS_POINTS = 100  # training-loss points logged to MLflow (window means): one insert each


def score_test_split(dataset: ZeroShotDataset, trained_model: ZeroShotClassifier) -> ScoredSplit:
    """Scores of the trained model on test_unseen and test_seen, over every class (scored once)."""
    protocol = final_protocol(dataset)
    started = time.perf_counter()
    scores_unseen, scores_seen = protocol.scores(trained_model.estimator)
    return ScoredSplit(
        scores_unseen=scores_unseen,
        labels_unseen=protocol.unseen_labels,
        scores_seen=scores_seen,
        labels_seen=protocol.seen_labels,
        seen_mask=protocol.task.seen_mask,
        class_names=tuple(dataset.class_names[c] for c in protocol.dataset_classes),
        calibration_gamma=float(trained_model.calibration_gamma),
        scoring_seconds=time.perf_counter() - started,
    )


def describe_test_data(dataset: ZeroShotDataset) -> dict:
    """Which features and class semantics the run used (MLflow tags; the report matches published
    numbers on them)."""
    return describe_data(dataset.source, dataset.metadata, dataset.feature_dim)


def report_per_class(
    test_scores: ScoredSplit, trained_model: ZeroShotClassifier, evaluation: dict
) -> tuple[Figure, pd.DataFrame, pd.DataFrame]:
    """The seen-unseen accuracy curve (figure), accuracy of each unseen class, the most confused class
    pairs."""
    figure = seen_unseen_figure(
        test_scores.curve(),
        test_scores.calibration_gamma,
        title=f"{trained_model.method_name} on {trained_model.metadata.get('dataset', 'test')}: "
        "seen-unseen accuracy curve",
    )
    return (
        figure,
        test_scores.unseen_class_accuracy(),
        test_scores.confused_pairs(evaluation["top_confused_pairs"]),
    )


def evaluate_on_test(
    test_scores: ScoredSplit, trained_model: ZeroShotClassifier, model_selection: dict
) -> tuple[dict, dict]:
    """CZSL / GZSL metrics (in %) without and with calibrated stacking, AUSUC, plus curves for MLflow."""
    metrics = test_scores.report()
    metadata = trained_model.metadata
    report = {
        "method": trained_model.method_name,
        "dataset": metadata.get("dataset", "dataset"),
        **{k: round(float(v), 4) for k, v in metrics.items()},
        "n_synthetic_per_class": metadata["n_synthetic_per_class"],
        "selected_step": model_selection["best_step"],
        "selected_setting": model_selection["setting"],
        "seconds_selection": round(metadata["selection_seconds"], 3),
        "seconds_training": round(metadata["training_seconds"], 3),
        "seconds_test_scoring": round(test_scores.scoring_seconds, 3),
        # stages timed by the method itself
        # (f-CLSWGAN: seen-classifier pre-training, GAN, synthesis, classifier)
        **{
            f"seconds_{stage}": round(float(s), 3)
            for stage, s in (getattr(trained_model.estimator, "timings_", None) or {}).items()
        },
    }
    history = {
        key: {"value": float(value), "step": 0}
        for key, value in report.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    best_curve = next(
        (c["points"] for c in model_selection["curves"] if c["setting"] == model_selection["setting"]), []
    )
    for name in CURVE_METRICS:
        points = [{"step": int(p["step"]), "value": float(p[name])} for p in best_curve]
        if len(points) > 1:
            history[f"validation_curve.{name}"] = points
    # iterative methods keep their losses by name (fsigenz.methods.early_stopping): the monitored one
    iterative = method_spec(trained_model.method_name).steps_parameter is not None
    loss = trained_model.estimator.loss_history_[MONITORED_LOSS] if iterative else []
    if len(loss):
        history["train_loss"] = _windowed_mean(np.asarray(loss, dtype=np.float64))
    return report, history


def _windowed_mean(values: np.ndarray, max_points: int = LOSS_POINTS) -> list[dict]:
    """At most ``max_points`` (step, mean loss over the window ending there) points for MLflow."""
    window = max(1, int(np.ceil(values.size / max_points)))
    ends = np.arange(window, values.size + window, window).clip(max=values.size)
    sums = np.concatenate([[0.0], np.cumsum(values)])
    starts = np.maximum(ends - window, 0)
    return [
        {"step": int(e), "value": float((sums[e] - sums[b]) / (e - b))}
        for b, e in zip(starts, ends, strict=True)
    ]
