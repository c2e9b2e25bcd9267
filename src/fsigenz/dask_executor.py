"""dagster-dask's executor for conf/cluster (docs/dagster.md, "Executors: a cluster"): the same
configuration, plus a visible failure when a worker dies under a step. Needs the ``cluster`` extra
(dagster-dask, distributed); ``fsigenz.definitions`` registers it for ``dask_executor`` blocks when
dagster-dask is installed."""

from __future__ import annotations

import dagster as dg
from dagster_dask.executor import DaskExecutor
from dagster_dask.executor import dask_executor as _dagster_dask_executor

from fsigenz.definitions import close_running_mlflow_runs


class DaskClusterExecutor(DaskExecutor):
    """dagster-dask's executor, closing the Dagster run's MLflow run when the run fails outside a step.

    When a worker dies under a step, Dask reports the step's task as lost (with the scheduler's
    ``allowed-failures: 0``, conf/cluster) and dagster-dask's executor raises: the Dagster run fails, but
    no step failed, so dagster-mlflow's hook never marked the MLflow run. This executor does, then raises.
    """

    def execute(self, plan_context, execution_plan):
        try:
            yield from super().execute(plan_context, execution_plan)
        except BaseException as error:
            unfinished = steps_without_end(plan_context.instance, plan_context.run_id)
            plan_context.log.error(
                f"The Dask execution failed ({type(error).__name__}) while step(s) "
                f"{', '.join(unfinished) or '(none)'} ran: a lost worker (KilledWorker) takes every step "
                "it held with it; launch the job again once the cluster has its workers back"
            )
            closed = close_running_mlflow_runs(plan_context.run_id)
            if closed:
                plan_context.log.error(f"MLflow run(s) {', '.join(closed)} marked FAILED")
            raise


def steps_without_end(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The steps of run ``run_id`` that started (on a worker, which records it) and never ended."""
    started, ended = set(), set()
    ends = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
    for record in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_START, *ends}):
        (ended if record.dagster_event.event_type in ends else started).add(record.step_key)
    return sorted(started - ended)


@dg.executor(
    name="dask",
    requirements=dg.multiple_process_executor_requirements(),
    config_schema=_dagster_dask_executor.config_schema,
)
def dask_executor(init_context):
    """dagster-dask's ``dask_executor`` (same configuration) running :class:`DaskClusterExecutor`."""
    ((cluster_type, cluster_configuration),) = init_context.executor_config["cluster"].items()
    return DaskClusterExecutor(cluster_type, cluster_configuration)
