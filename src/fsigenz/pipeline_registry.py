"""Project pipelines: one base pipeline per stage, instantiated once per dataset namespace.

A namespace runs when its data is there: ``synthetic`` always (it is generated), ``cub``, ``awa2``,
``sun`` and ``custom`` when ``data/01_raw/<namespace>/`` holds files. So ``kedro run`` runs every
dataset present and ``kedro run --namespaces=awa2`` just AwA2.

``training_<namespace>`` is the full pipeline of one namespace wrapped by kedro-mlflow's
``pipeline_ml_factory``: after the run, its inference pipeline and fitted model are logged as one
MLflow pyfunc model (docs/serving.md), with the image backbone that made the namespace's features
when feature extraction made them. A ``PipelineML`` logs one model, so ``__default__`` is that
pipeline when a single namespace is present (the out-of-the-box synthetic case) and the plain sum
of the namespaces otherwise.
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path

from kedro.pipeline import Pipeline
from kedro_mlflow.pipeline.pipeline_ml import KedroMlflowPipelineMLError, PipelineML

import fsigenz
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
from fsigenz.configuration import CONFIGURABLE_BLOCKS

GENERATED_NAMESPACES = ("synthetic",)
FILE_NAMESPACES = ("cub", "awa2", "sun", "custom")
RAW_DATA = Path("data/01_raw")
NOT_DATA = {"README.md", ".gitkeep"}

# parameters shared by all namespaces (the rest, e.g. params:source, is per namespace)
SHARED_PARAMETERS = {
    f"params:{name}": f"params:{name}"
    for name in (*CONFIGURABLE_BLOCKS, "command_line", "prototype_visualisation", "image_backbone", "evaluation")
}
# the served model's request parameters, the same for every namespace
INFERENCE_PARAMETERS = {name: name for name in inference.pipeline.PARAMETERS}
LOGGED_MODEL_NAME = "model"
_QUIET_LOGGER = logging.getLogger("fsigenz.pipeline_registry.model_logging")
_QUIET_LOGGER.setLevel(logging.ERROR)
# What the served model imports besides fsigenz (which travels with it as code): pinned to the
# installed versions, so that MLflow need not infer them (a subprocess that loads the model).
# timm, torchvision and pillow embed image_path rows.
SERVING_DISTRIBUTIONS = (
    "mlflow", "cloudpickle", "kedro", "kedro-datasets", "kedro-mlflow", "torch", "numpy", "pandas",
    "timm", "torchvision", "pillow",
)


def available_namespaces(raw_data: Path = RAW_DATA) -> list[str]:
    """``synthetic`` plus each file-based namespace whose raw-data folder holds a file."""
    present = [
        ns for ns in FILE_NAMESPACES
        if (raw_data / ns).is_dir() and any(p.name not in NOT_DATA for p in (raw_data / ns).iterdir())
    ]
    return [*GENERATED_NAMESPACES, *present]


def _per_namespace(base: Pipeline, namespaces: list[str]) -> Pipeline:
    """``base`` once per namespace; where it reads ``run_configuration``, with the namespace's resolve node."""
    namespaced = []
    for ns in namespaces:
        pipeline = base
        if "run_configuration" in base.inputs():
            pipeline = configuration.create_pipeline(ns) + base
        shared = {**SHARED_PARAMETERS, f"params:{ns}": f"params:{ns}"}
        parameters = {k: v for k, v in shared.items() if k in pipeline.inputs()}
        namespaced.append(Pipeline(pipeline, namespace=ns, parameters=parameters))
    return sum(namespaced, Pipeline([]))


class ModelLoggingPipeline(PipelineML):
    """kedro-mlflow's ``PipelineML`` whose parts (``from_nodes``, ``filter``, … as used by
    ``--from-nodes`` and by Kedro's resume hint after a failed node) stay usable when they lack a node
    that makes an inference input.

    ``package_image_backbone`` depends on parameters only, so a part that starts after it (Kedro's
    resume hint after any later node fails, or ``--from-nodes``) leaves ``image_backbone`` free, and
    ``PipelineML`` raises ``KedroMlflowPipelineMLError`` ("No free input is allowed"). Raised while Kedro
    writes its resume hint, that error replaced the node's real one. Such a part cannot log the model
    and becomes a plain pipeline instead, as ``PipelineML.only_nodes`` already does (whose warning that
    the pipeline is "no longer a PipelineML", repeated for every part the resume hint looks at, is
    silenced here).
    """

    @property
    def _logger(self) -> logging.Logger:
        return _QUIET_LOGGER

    def _turn_pipeline_to_ml(self, pipeline: Pipeline) -> Pipeline:
        try:
            return ModelLoggingPipeline(
                nodes=pipeline.nodes,
                inference=self.inference,
                input_name=self.input_name,
                kpm_kwargs=self.kpm_kwargs,
                log_model_kwargs=self.log_model_kwargs,
            )
        except KedroMlflowPipelineMLError:
            return Pipeline(pipeline.nodes)


def _model_logging_pipeline(full: Pipeline, namespace: str) -> Pipeline:
    """``full`` for one namespace, logging ``trained_model``, ``image_backbone`` and the inference pipeline
    as an MLflow model."""
    return ModelLoggingPipeline(
        nodes=_per_namespace(full + inference.create_image_backbone_pipeline(), [namespace]).nodes,
        inference=Pipeline(inference.create_pipeline(), namespace=namespace, parameters=INFERENCE_PARAMETERS),
        input_name=f"{namespace}.features_to_score",
        log_model_kwargs={
            "name": LOGGED_MODEL_NAME,
            "signature": "auto",
            "code_paths": [str(Path(fsigenz.__file__).parent)],
            "pip_requirements": [f"{name}=={metadata.version(name)}" for name in SERVING_DISTRIBUTIONS],
        },
    )


def register_pipelines() -> dict[str, Pipeline]:
    namespaces = available_namespaces()
    ingestion = data_ingestion.create_pipeline()
    prototypes = prototype_generation.create_pipeline()
    training = classifier_training.create_pipeline()
    testing = evaluation.create_pipeline()
    full = ingestion + prototypes + training + testing + inference.create_input_example_pipeline()
    logging_models = {f"training_{ns}": _model_logging_pipeline(full, ns) for ns in namespaces}
    # a PipelineML logs one model: __default__ can be one only when it runs one namespace
    default = logging_models[f"training_{namespaces[0]}"] if len(namespaces) == 1 else _per_namespace(full, namespaces)
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
