"""evaluation: ``trained_model`` scores the test split once (``test_scores``) →

- ``metrics`` (metrics.json: CZSL, U / S / H with and without calibrated stacking, AUSUC) and
  ``metrics_history`` (MLflow);
- ``seen_unseen_curve`` (figure), ``unseen_class_accuracy`` and ``confused_pairs`` (tables), MLflow artifacts;
- ``data_description``: the features and semantics the run used, as MLflow tags (``<namespace>.features``).
"""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.evaluation.nodes import (
    describe_test_data,
    evaluate_on_test,
    report_per_class,
    score_test_split,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(score_test_split, ["dataset", "trained_model"], "test_scores", name="score_test_split"),
            node(
                evaluate_on_test,
                ["test_scores", "trained_model", "model_selection"],
                ["metrics", "metrics_history"],
                name="evaluate_on_test",
            ),
            node(
                report_per_class,
                ["test_scores", "trained_model", "params:evaluation"],
                ["seen_unseen_curve", "unseen_class_accuracy", "confused_pairs"],
                name="report_per_class",
            ),
            node(describe_test_data, "dataset", "data_description", name="describe_test_data"),
        ]
    )
