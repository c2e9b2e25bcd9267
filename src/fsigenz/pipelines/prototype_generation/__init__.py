"""prototype_generation pipeline."""

from fsigenz.pipelines.prototype_generation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
