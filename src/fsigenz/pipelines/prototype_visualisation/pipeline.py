"""prototype_visualisation: ``dataset`` + ``prototype_table`` → t-SNE figure and prototype distance numbers.

Registered with data ingestion and prototype generation in front:
``kedro run --pipelines=prototype_visualisation`` (one namespace: add ``--namespaces=<ns>``).
"""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.prototype_visualisation.nodes import visualise_prototypes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                visualise_prototypes,
                {
                    "dataset": "dataset",
                    "prototype_table": "prototype_table",
                    "run_configuration": "run_configuration",
                    "prototype_visualisation": "params:prototype_visualisation",
                },
                ["prototype_tsne", "prototype_geometry", "prototype_geometry_metrics"],
                name="visualise_prototypes",
            )
        ]
    )
