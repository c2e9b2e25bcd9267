"""One node: the images named by ``params:feature_extraction`` → ``<output_dir>/<output_name>.npz``.

Reused per dataset through a namespace (``Pipeline(create_pipeline(), namespace="cub")`` reads
``params:cub.feature_extraction`` and outputs ``cub.feature_extraction_summary``).
"""

from kedro.pipeline import Node, Pipeline

from fsigenz.pipelines.feature_extraction.nodes import extract_image_features


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                extract_image_features,
                inputs="params:feature_extraction",
                outputs="feature_extraction_summary",
                name="extract_image_features",
            )
        ]
    )
