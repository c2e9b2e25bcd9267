"""Kedro project settings (https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

from fsigenz.hooks import RunReportHooks, StepProcessMlflowParams

# kedro-mlflow and kedro-viz register their hooks themselves through entry points; the second hook
# completes kedro-mlflow's in Dagster step processes (docs/dagster.md).
HOOKS = (RunReportHooks(), StepProcessMlflowParams())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/local (and tuned parameters written there) refine conf/base key by key instead of
    # replacing whole top-level blocks.
    "merge_strategy": {"parameters": "soft"},
}
