"""Nodes of the reporting pipeline: MLflow runs → comparison and study reports (the library does the work)."""

from __future__ import annotations

import logging

import pandas as pd
from matplotlib.figure import Figure

from fsigenz.experiments.figures import efficiency_figure, study_figure
from fsigenz.experiments.report import comparison_table, markdown_table, runs_by_dataset, study_table
from fsigenz.experiments.studies import study_settings
from fsigenz.methods.registry import METHODS

logger = logging.getLogger(__name__)

COMPARISON_COLUMNS = ("method", "dataset", "czsl", "unseen", "seen", "h", "h_cs", "n_synthetic_per_class",
                      "seconds_generation", "seconds_fit", "seconds_selection")
STUDY_COLUMNS = ("setting", "dataset", "czsl", "unseen", "seen", "h", "h_cs", "n_synthetic_per_class", "seconds_fit")


def collect_runs(mlflow_runs: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run and dataset namespace with test metrics and costs."""
    table_methods = [name for name, spec in METHODS.items() if spec.uses_prototypes]
    rows = runs_by_dataset(mlflow_runs, prototype_table_methods=table_methods)
    logger.info("Read %d MLflow runs: %d (run, dataset) results with test metrics", len(mlflow_runs), len(rows))
    return rows


def report_comparison(run_results: pd.DataFrame, reporting: dict) -> tuple[pd.DataFrame, str, Figure]:
    """The latest run of each method on each dataset: CSV table, Markdown table, efficiency figure."""
    options = reporting.get("comparison", {})
    labels = reporting.get("method_labels", {})
    table = comparison_table(
        run_results,
        include_studies=options.get("include_studies", ["baselines"]),
        include_untagged=options.get("include_untagged", True),
        method_order=reporting.get("method_order", []),
    )
    markdown = markdown_table(table, COMPARISON_COLUMNS, labels=labels)
    if table.empty:
        markdown += "\nNo finished run with test metrics yet.\n"
    logger.info("Comparison:\n%s", markdown)
    return table, markdown, efficiency_figure(table, options.get("efficiency_metric", "h"), labels)


def report_studies(run_results: pd.DataFrame, studies: dict) -> tuple[dict, dict, dict]:
    """For every configured study: its table (CSV and Markdown) and summary figure, keyed by study name."""
    tables, markdown, figures = {}, {}, {}
    for name, study in studies.items():
        table = study_table(run_results, name, study_settings(name, study))
        tables[name] = table
        markdown[name] = f"# Study: {name}\n\n{study.get('description', '')}\n\n" + markdown_table(table, STUDY_COLUMNS)
        figures[f"{name}.png"] = study_figure(table, name)
    return tables, markdown, figures
