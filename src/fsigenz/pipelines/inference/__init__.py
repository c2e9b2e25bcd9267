"""The ``inference`` pipeline and the served MLflow model that runs it."""

from fsigenz.pipelines.inference.pipeline import (
    create_image_backbone_pipeline,
    create_pipeline,
    create_served_model_pipeline,
)

__all__ = ["create_image_backbone_pipeline", "create_pipeline", "create_served_model_pipeline"]
