"""Nodes of the evaluation pipeline: the test split, once, with the γ chosen on validation."""

from __future__ import annotations

import time

from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.model import ZeroShotClassifier
from fsigenz.protocol import final_protocol

CURVE_METRICS = ("gzsl_h", "gzsl_unseen", "gzsl_seen", "czsl_top1")


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
    }
    history = {key: {"value": float(value), "step": 0} for key, value in report.items() if isinstance(value, (int, float)) and not isinstance(value, bool) and value is not None}
    best_curve = next(
        (c["points"] for c in model_selection["curves"] if c["setting"] == model_selection["setting"]), []
    )
    for name in CURVE_METRICS:
        points = [{"step": int(p["step"]), "value": float(p[name])} for p in best_curve]
        if len(points) > 1:
            history[f"validation_curve.{name}"] = points
    loss = getattr(trained_model.estimator, "loss_history_", None)
    if loss:
        history["train_loss"] = [{"step": i, "value": float(v)} for i, v in enumerate(loss)]
    return report, history
