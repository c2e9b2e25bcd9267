"""Feature extraction: a folder of images → backbone features in the project's feature format."""

from fsigenz.pipelines.feature_extraction.pipeline import create_pipeline

__all__ = ["create_pipeline"]
