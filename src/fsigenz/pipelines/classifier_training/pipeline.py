"""classifier_training: ``dataset`` + ``run_configuration`` (+ ``prototype_table``) → ``model_selection``
→ ``trained_model``."""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.classifier_training.nodes import select_on_validation, train_final_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                select_on_validation,
                ["dataset", "run_configuration"],
                "model_selection",
                name="select_on_validation",
            ),
            node(
                train_final_model,
                ["dataset", "prototype_table", "model_selection", "run_configuration"],
                "trained_model",
                name="train_final_model",
            ),
        ]
    )
