"""evaluation: ``trained_model`` on test → ``metrics`` (metrics.json) and ``metrics_history`` (MLflow)."""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.evaluation.nodes import evaluate_on_test


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                evaluate_on_test,
                ["dataset", "trained_model", "model_selection"],
                ["metrics", "metrics_history"],
                name="evaluate_on_test",
            )
        ]
    )
