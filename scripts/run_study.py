"""Run a study: one kedro run per setting, then the reporting pipeline (see docs/experiments.md).

.venv/bin/python scripts/run_study.py ablation [--namespaces synthetic] [--only full] [--dry-run]
"""

import sys

from fsigenz.pipelines.studies.runner import main

if __name__ == "__main__":
    sys.exit(main())
