"""Project pipelines: one base pipeline per stage, instantiated once per dataset namespace.

A namespace runs when its data is there: ``synthetic`` always (it is generated), ``cub``, ``awa2``,
``sun`` and ``custom`` when ``data/01_raw/<namespace>/`` holds files. So ``kedro run`` runs every
dataset present and ``kedro run --namespaces=awa2`` just AwA2.

``training_<namespace>`` is the full pipeline of one namespace plus the served model: the fitted model
with its inference node, logged to the run as the MLflow pyfunc model ``model`` (docs/serving.md),
with the image backbone that made the namespace's features when feature extraction made them. A run
logs one model named ``model``, so ``__default__`` is that pipeline when a single namespace is present
(the out-of-the-box synthetic case) and the plain sum of the namespaces otherwise.
"""

from __future__ import annotations

from pathlib import Path

from kedro.pipeline import Pipeline

from fsigenz.configuration import CONFIGURABLE_BLOCKS
from fsigenz.pipelines import (
    classifier_training,
    configuration,
    data_ingestion,
    evaluation,
    feature_extraction,
    inference,
    prototype_generation,
    prototype_visualisation,
    reporting,
)

GENERATED_NAMESPACES = ("synthetic",)
FILE_NAMESPACES = ("cub", "awa2", "sun", "custom")
RAW_DATA = Path("data/01_raw")
NOT_DATA = {"README.md", ".gitkeep"}

# parameters shared by all namespaces (the rest, e.g. params:source, is per namespace)
SHARED_PARAMETERS = {
    f"params:{name}": f"params:{name}"
    for name in (
        *CONFIGURABLE_BLOCKS,
        "command_line",
        "prototype_visualisation",
        "image_backbone",
        "evaluation",
        "inference",
    )
}


def available_namespaces(raw_data: Path = RAW_DATA) -> list[str]:
    """``synthetic`` plus each file-based namespace whose raw-data folder holds a file."""
    present = [
        ns
        for ns in FILE_NAMESPACES
        if (raw_data / ns).is_dir() and any(p.name not in NOT_DATA for p in (raw_data / ns).iterdir())
    ]
    return [*GENERATED_NAMESPACES, *present]


def _per_namespace(base: Pipeline, namespaces: list[str]) -> Pipeline:
    """``base`` once per namespace; where it reads ``run_configuration``, with the namespace's resolve
    node."""
    namespaced = []
    for ns in namespaces:
        pipeline = base
        if "run_configuration" in base.inputs():
            pipeline = configuration.create_pipeline(ns) + base
        shared = {**SHARED_PARAMETERS, f"params:{ns}": f"params:{ns}"}
        parameters = {k: v for k, v in shared.items() if k in pipeline.inputs()}
        namespaced.append(Pipeline(pipeline, namespace=ns, parameters=parameters))
    return sum(namespaced, Pipeline([]))


def _model_logging_pipeline(full: Pipeline, namespace: str) -> Pipeline:
    """``full`` for one namespace, then the image backbone and the served model, which the catalog logs."""
    serving = inference.create_image_backbone_pipeline() + inference.create_served_model_pipeline()
    return _per_namespace(full + serving, [namespace])


def register_pipelines() -> dict[str, Pipeline]:
    namespaces = available_namespaces()
    ingestion = data_ingestion.create_pipeline()
    prototypes = prototype_generation.create_pipeline()
    training = classifier_training.create_pipeline()
    testing = evaluation.create_pipeline()
    full = ingestion + prototypes + training + testing
    logging_models = {f"training_{ns}": _model_logging_pipeline(full, ns) for ns in namespaces}
    # a run logs one model named `model`: __default__ can log it only when it runs one namespace
    default = (
        logging_models[f"training_{namespaces[0]}"]
        if len(namespaces) == 1
        else _per_namespace(full, namespaces)
    )
    return {
        "__default__": default,
        **logging_models,
        "data_ingestion": _per_namespace(ingestion, namespaces),
        "prototypes": _per_namespace(ingestion + prototypes, namespaces),
        "classifier_training": _per_namespace(training, namespaces),
        "evaluation": _per_namespace(testing, namespaces),
        "feature_extraction": _per_namespace(feature_extraction.create_pipeline(), list(FILE_NAMESPACES)),
        # experiments (docs/experiments.md)
        "prototype_visualisation": _per_namespace(
            ingestion + prototypes + prototype_visualisation.create_pipeline(), namespaces
        ),
        "reporting": reporting.create_pipeline(),
    }
