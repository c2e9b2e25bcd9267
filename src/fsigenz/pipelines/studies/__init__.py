"""Command-line drivers of the experiments (Kedro layer): they launch pipelines, they are not pipelines.

- :mod:`~fsigenz.pipelines.studies.runner`: one ``kedro run`` per setting of a study, then ``reporting``
  (``python scripts/run_study.py <study>``);
- :mod:`~fsigenz.pipelines.studies.tuning`: Optuna search on the validation split, best setting written
  to ``conf/local`` (``python scripts/tune.py``).
"""
