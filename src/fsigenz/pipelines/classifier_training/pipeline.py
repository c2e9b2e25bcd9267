"""classifier_training: ``dataset`` (+ ``prototype_table``) → ``model_selection`` → ``trained_model``."""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.classifier_training.nodes import select_on_validation, train_final_model
from fsigenz.pipelines.configuration import METHOD_BLOCKS


def create_pipeline(**kwargs) -> Pipeline:
    method_inputs = {name: f"params:{name}" for name in METHOD_BLOCKS}
    return Pipeline(
        [
            node(
                select_on_validation,
                {"dataset": "dataset", "model": "params:model", "overrides": "params:overrides", **method_inputs},
                "model_selection",
                name="select_on_validation",
            ),
            node(
                train_final_model,
                ["dataset", "prototype_table", "model_selection"],
                "trained_model",
                name="train_final_model",
            ),
        ]
    )
