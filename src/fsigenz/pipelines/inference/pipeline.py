"""inference: ``trained_model`` + ``image_backbone`` + ``features_to_score`` → ``predictions``, and what a
training run logs for it.

The served model (``served_model.ServedClassifier``, an MLflow pyfunc model) calls the
``predict_classes`` node's function on every request, with the ``inference.*`` request parameters.
Two small pipelines run in training for it: the image backbone (the backbone that made the training
features, or why there is none; ``params:image_backbone``) and the served model, which the catalog's
``<ns>.served_model`` logs to the run as ``model`` (``datasets.MlflowServedModelDataset``).
"""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.inference.nodes import build_served_model, package_image_backbone, predict_classes

PARAMETERS = (
    "params:inference.top_k",
    "params:inference.calibrated",
    "params:inference.new_classes",
    "params:inference.examples",
)


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


def create_served_model_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                build_served_model,
                ["trained_model", "image_backbone", "params:inference"],
                "served_model",
                name="build_served_model",
            )
        ]
    )
