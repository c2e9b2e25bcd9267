"""Optuna search on the validation split; the best setting goes to conf/local (see docs/experiments.md).

.venv/bin/python scripts/tune.py --namespace synthetic --method fsigenz --n-trials 20 --workers 2
"""

import sys

from fsigenz.pipelines.studies.tuning import main

if __name__ == "__main__":
    sys.exit(main())
