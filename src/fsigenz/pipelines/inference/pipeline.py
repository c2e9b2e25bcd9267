"""inference: ``trained_model`` + ``features_to_score`` → ``predictions``.

Logged with the trained model as one MLflow pyfunc model (``pipeline_ml_factory`` in the pipeline
registry); the ``params:inference.*`` inputs become the model's request parameters. The input
example pipeline writes a few test rows to ``features_to_score`` during training, from which MLflow
infers the model's input schema.
"""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.inference.nodes import predict_classes, write_input_example

PARAMETERS = ("params:inference.top_k", "params:inference.calibrated", "params:inference.new_classes")


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                predict_classes,
                ["trained_model", "features_to_score", *PARAMETERS],
                "predictions",
                name="predict_classes",
            )
        ]
    )


def create_input_example_pipeline(**kwargs) -> Pipeline:
    return Pipeline([node(write_input_example, "dataset", "features_to_score", name="write_input_example")])
