"""Project pipelines: one base pipeline per stage, instantiated once per dataset namespace.

A namespace runs when its data is there: ``synthetic`` always (it is generated), ``cub``, ``awa2``,
``sun`` and ``custom`` when ``data/01_raw/<namespace>/`` holds files. So ``kedro run`` runs every
dataset present and ``kedro run --namespaces=awa2`` just AwA2.
"""

from __future__ import annotations

from pathlib import Path

from kedro.pipeline import Pipeline

from fsigenz.pipelines import (
    classifier_training,
    data_ingestion,
    evaluation,
    feature_extraction,
    prototype_generation,
)
from fsigenz.pipelines.configuration import METHOD_BLOCKS

GENERATED_NAMESPACES = ("synthetic",)
FILE_NAMESPACES = ("cub", "awa2", "sun", "custom")
RAW_DATA = Path("data/01_raw")
NOT_DATA = {"README.md", ".gitkeep"}

# parameters shared by all namespaces (the rest, e.g. params:source, is per namespace)
SHARED_PARAMETERS = {f"params:{name}": f"params:{name}" for name in ("model", *METHOD_BLOCKS)}


def available_namespaces(raw_data: Path = RAW_DATA) -> list[str]:
    """``synthetic`` plus each file-based namespace whose raw-data folder holds a file."""
    present = [
        ns for ns in FILE_NAMESPACES
        if (raw_data / ns).is_dir() and any(p.name not in NOT_DATA for p in (raw_data / ns).iterdir())
    ]
    return [*GENERATED_NAMESPACES, *present]


def _per_namespace(base: Pipeline, namespaces: list[str]) -> Pipeline:
    parameters = {k: v for k, v in SHARED_PARAMETERS.items() if k in base.inputs()}
    return sum((Pipeline(base, namespace=ns, parameters=parameters) for ns in namespaces), Pipeline([]))


def register_pipelines() -> dict[str, Pipeline]:
    namespaces = available_namespaces()
    ingestion = data_ingestion.create_pipeline()
    prototypes = prototype_generation.create_pipeline()
    training = classifier_training.create_pipeline()
    testing = evaluation.create_pipeline()
    full = ingestion + prototypes + training + testing
    return {
        "__default__": _per_namespace(full, namespaces),
        "data_ingestion": _per_namespace(ingestion, namespaces),
        "prototypes": _per_namespace(ingestion + prototypes, namespaces),
        "classifier_training": _per_namespace(training, namespaces),
        "evaluation": _per_namespace(testing, namespaces),
        "feature_extraction": _per_namespace(feature_extraction.create_pipeline(), list(FILE_NAMESPACES)),
    }
