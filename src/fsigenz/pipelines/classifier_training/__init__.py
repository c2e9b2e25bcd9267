"""classifier_training pipeline."""

from fsigenz.pipelines.classifier_training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
