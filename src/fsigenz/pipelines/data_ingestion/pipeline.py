"""data_ingestion: ``params:source`` → ``dataset`` (+ its summary)."""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.data_ingestion.nodes import load_dataset, summarize_dataset


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(load_dataset, "params:source", "dataset", name="load_dataset"),
            node(summarize_dataset, "dataset", "dataset_summary", name="summarize_dataset"),
        ]
    )
