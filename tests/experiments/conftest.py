"""Shared helpers: fake runs shaped like what `kedro run` logs to MLflow, a scratch project, `kedro`."""

from __future__ import annotations

import pandas as pd
import pytest

# (method, n_synthetic_per_class, H) of a small fake comparison
FAKE_METHODS = (("fsigenz", 20, 44.0), ("tcn", 0, 33.0), ("eszsl", 0, 36.0), ("fclswgan", 300, 40.0))


def fake_metrics(
    h: float,
    n_synthetic: int,
    namespace: str = "synthetic",
    seconds_training: float = 2.0,
    gan_seconds: float | None = None,
) -> dict[str, float]:
    """The metrics one namespace of a `kedro run` logs (a subset), with H and the costs given."""
    metrics = {
        f"{namespace}.czsl_top1": h + 5,
        f"{namespace}.gzsl_unseen": h - 10,
        f"{namespace}.gzsl_seen": h + 20,
        f"{namespace}.gzsl_h": h,
        f"{namespace}.gzsl_h_cs": h + 3,
        f"{namespace}.n_synthetic_per_class": n_synthetic,
        f"{namespace}.seconds_training": seconds_training,
        f"{namespace}.seconds_selection": 1.5,
        f"time.{namespace}.generate_prototype_table": 0.25,
    }
    if gan_seconds is not None:
        metrics.update(
            {
                f"{namespace}.seconds_seen_classifier_pretraining": 0.5,
                f"{namespace}.seconds_generator_training": gan_seconds,
                f"{namespace}.seconds_synthesis": 0.1,
                f"{namespace}.seconds_classifier_training": 1.0,
            }
        )
    return metrics


def log_fake_run(
    client, experiment_id: str, method: str, metrics: dict, tags: dict | None = None, status: str = "FINISHED"
) -> str:
    run = client.create_run(experiment_id, tags=tags or {})
    client.log_param(run.info.run_id, "model.method", method)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, status)
    return run.info.run_id


def log_fake_experiment(client, experiment_id: str) -> None:
    """A comparison of four methods, a stale FSIGenZ run, a failed run, and an ablation study."""
    log_fake_run(client, experiment_id, "fsigenz", fake_metrics(10.0, 20))  # older: superseded below
    for method, n_synthetic, h in FAKE_METHODS:
        log_fake_run(
            client,
            experiment_id,
            method,
            fake_metrics(h, n_synthetic, gan_seconds=5.0 if method == "fclswgan" else None),
        )
    log_fake_run(client, experiment_id, "eszsl", fake_metrics(99.0, 0), status="FAILED")
    for setting, h in (
        ("full", 44.0),
        ("without_msas", 41.0),
        ("without_dpsr", 20.0),
        ("without_both", 18.0),
    ):
        log_fake_run(
            client, experiment_id, "fsigenz", fake_metrics(h, 20), {"study": "ablation", "setting": setting}
        )


@pytest.fixture
def mlflow_store(tmp_path):
    """A fresh SQLite tracking store as the current tracking URI; the previous URI is restored after."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(previous)


def runs_frame(rows: list[dict]) -> pd.DataFrame:
    """A DataFrame shaped like mlflow.search_runs output from {run_id, start, status, metrics, params,
    tags} dicts."""
    records = []
    for i, row in enumerate(rows):
        record = {
            "run_id": row.get("run_id", f"run{i}"),
            "status": row.get("status", "FINISHED"),
            "start_time": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=row.get("start", i)),
        }
        record.update({f"metrics.{k}": v for k, v in row.get("metrics", {}).items()})
        record.update({f"params.{k}": str(v) for k, v in row.get("params", {}).items()})
        record.update({f"tags.{k}": v for k, v in row.get("tags", {}).items()})
        records.append(record)
    return pd.DataFrame.from_records(records)
