"""Nodes of the evaluation pipeline: the test split, once, with the γ chosen on validation."""

from __future__ import annotations

import time

import numpy as np

from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.methods.early_stopping import MONITORED_LOSS
from fsigenz.methods.registry import method_spec
from fsigenz.model import ZeroShotClassifier
from fsigenz.protocol import final_protocol

CURVE_METRICS = ("gzsl_h", "gzsl_unseen", "gzsl_seen", "czsl_top1")
LOSS_POINTS = 100  # training-loss points logged to MLflow (window means): one insert each


def evaluate_on_test(dataset: ZeroShotDataset, trained_model: ZeroShotClassifier, model_selection: dict) -> tuple[dict, dict]:
    """CZSL / GZSL metrics (in %) without and with calibrated stacking, plus curves for MLflow."""
    protocol = final_protocol(dataset)
    started = time.perf_counter()
    metrics = protocol.evaluate(trained_model.estimator, gamma=trained_model.calibration_gamma)
    scoring_seconds = time.perf_counter() - started
    metadata = trained_model.metadata
    report = {
        "method": trained_model.method_name,
        "dataset": dataset.name,
        **{k: round(float(v), 4) for k, v in metrics.items()},
        "n_synthetic_per_class": metadata["n_synthetic_per_class"],
        "selected_step": model_selection["best_step"],
        "selected_setting": model_selection["setting"],
        "seconds_selection": round(metadata["selection_seconds"], 3),
        "seconds_training": round(metadata["training_seconds"], 3),
        "seconds_test_scoring": round(scoring_seconds, 3),
        # stages timed by the method itself (f-CLSWGAN: seen-classifier pre-training, GAN, synthesis, classifier)
        **{f"seconds_{stage}": round(float(s), 3) for stage, s in (getattr(trained_model.estimator, "timings_", None) or {}).items()},
    }
    history = {key: {"value": float(value), "step": 0} for key, value in report.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}
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
    return [{"step": int(e), "value": float((sums[e] - sums[b]) / (e - b))} for b, e in zip(starts, ends)]

