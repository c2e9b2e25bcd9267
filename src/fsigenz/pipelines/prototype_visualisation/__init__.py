"""prototype_visualisation pipeline: t-SNE of real unseen features, k-means centres and prototypes."""

from fsigenz.pipelines.prototype_visualisation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
