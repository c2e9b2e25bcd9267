"""prototype_generation (registered as ``prototypes``): ``dataset`` + ``run_configuration``
→ ``prototype_table``."""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.prototype_generation.nodes import generate_prototype_table


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                generate_prototype_table,
                ["dataset", "run_configuration"],
                "prototype_table",
                name="generate_prototype_table",
            )
        ]
    )
