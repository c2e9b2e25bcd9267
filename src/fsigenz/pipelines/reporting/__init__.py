"""reporting pipeline: MLflow runs → the comparison table, the efficiency figure and each study's summary."""

from fsigenz.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
