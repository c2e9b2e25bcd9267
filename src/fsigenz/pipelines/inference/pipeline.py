"""inference: ``trained_model`` + ``image_backbone`` + ``features_to_score`` → ``predictions``.

Logged with the trained model as one MLflow pyfunc model (``pipeline_ml_factory`` in the pipeline
registry); the ``params:inference.*`` inputs become the model's request parameters. Two small
pipelines run in training for it: the input example (a few test rows in the input layout, written to
``features_to_score``, from which MLflow infers the model's input schema) and the image backbone (the
backbone that made the training features, or why there is none; ``params:image_backbone``).
"""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.inference.nodes import package_image_backbone, predict_classes, write_input_example

PARAMETERS = ("params:inference.top_k", "params:inference.calibrated", "params:inference.new_classes")


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                predict_classes,
                ["trained_model", "features_to_score", "image_backbone", *PARAMETERS],
                "predictions",
                name="predict_classes",
            )
        ]
    )


def create_input_example_pipeline(**kwargs) -> Pipeline:
    return Pipeline([node(write_input_example, "dataset", "features_to_score", name="write_input_example")])


def create_image_backbone_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                package_image_backbone,
                ["params:source", "params:image_backbone"],
                "image_backbone",
                name="package_image_backbone",
            )
        ]
    )
