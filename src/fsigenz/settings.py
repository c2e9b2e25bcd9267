"""Kedro project settings (https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

import warnings

from omegaconf.resolvers import oc

from fsigenz.hooks import RequestedStopHooks, RunReportHooks, StepProcessMlflowParams, TrainingProgressHooks
from fsigenz.publication import StagedOutputs
from fsigenz.run_records import MlflowRunRecordHooks

# kedro-mlflow and kedro-viz register their hooks themselves through entry points; the second hook
# completes kedro-mlflow's in Dagster step processes (docs/dagster.md); the last two record how each
# MLflow run ended and publish a run's outputs together at its end (README, "When a run fails").
HOOKS = (
    RunReportHooks(),
    StepProcessMlflowParams(),
    MlflowRunRecordHooks(),
    StagedOutputs(),
    TrainingProgressHooks(),  # progress of each node's training loops: terminal and live MLflow metrics
    RequestedStopHooks(),  # a Ctrl-C / SIGTERM whose exception Python dropped stops at the next node
)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/local (and tuned parameters written there) refine conf/base key by key instead of
    # replacing whole top-level blocks.
    "merge_strategy": {"parameters": "soft"},
    # ${oc.env:NAME,default} in any conf file (Kedro allows it in credentials only): conf/cluster reads the
    # Dask scheduler, the MLflow server and the shared data root from the environment (docs/dagster.md)
    "custom_resolvers": {"oc.env": oc.env},
}
# Kedro 1.7 registers resolvers with OmegaConf's deprecated call, which warns on every run; nothing to act on
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning)
