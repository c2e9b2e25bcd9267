"""reporting: ``mlflow_runs`` (the experiment's runs) → comparison table + efficiency figure, study summaries;
``published_results`` (conf/base/published.yml) → the published numbers on the runs' inputs, beside them.

Run it after any runs: ``kedro run --pipelines=reporting``; the study runner (scripts/run_study.py) calls it
after each study. Outputs go to data/08_reporting/comparison/ and data/08_reporting/studies/ and, as
artifacts, to this pipeline's own MLflow run.
"""

from kedro.pipeline import Pipeline, node

from fsigenz.pipelines.reporting.nodes import collect_runs, report_comparison, report_studies


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(collect_runs, "mlflow_runs", "run_results", name="collect_runs"),
            node(
                report_comparison,
                ["run_results", "params:reporting", "published_results"],
                ["comparison_table", "comparison_markdown", "efficiency_figure", "published_comparison"],
                name="report_comparison",
            ),
            node(
                report_studies,
                ["run_results", "params:studies"],
                ["study_tables", "study_markdown", "study_figures"],
                name="report_studies",
            ),
        ]
    )
