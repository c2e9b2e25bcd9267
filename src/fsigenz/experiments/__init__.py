"""Experiments on top of the method library: studies, the comparison report, prototype geometry, tuning.

Pure functions (no Kedro, no MLflow): the Kedro layer reads MLflow runs into a DataFrame
(``mlflow.search_runs`` shape: ``run_id``, ``start_time``, ``metrics.*``, ``params.*``, ``tags.*``) and
passes it here.

- :mod:`~fsigenz.experiments.studies`: a study block of the parameters → its settings, each a set of
  ``kedro run --params`` overrides;
- :mod:`~fsigenz.experiments.report`: runs → the comparison table and each study's table;
- :mod:`~fsigenz.experiments.figures`: the efficiency figure, study figures, the prototype t-SNE;
- :mod:`~fsigenz.experiments.prototype_geometry`: how close prototypes lie to real unseen-class structure;
- :mod:`~fsigenz.experiments.tuning`: Optuna search on the validation split, tuned-parameter file.
"""
