"""The ``inference`` pipeline: the nodes logged inside the MLflow model."""

from fsigenz.pipelines.inference.pipeline import (
    create_image_backbone_pipeline,
    create_input_example_pipeline,
    create_pipeline,
)

__all__ = ["create_image_backbone_pipeline", "create_input_example_pipeline", "create_pipeline"]
