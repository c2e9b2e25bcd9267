"""Fixtures of the method tests (the problem itself lives in tests/methods/problems.py)."""

import pytest

from tests.methods.problems import SyntheticProblem, make_synthetic_problem


@pytest.fixture(scope="session")
def synthetic_problem() -> SyntheticProblem:
    return make_synthetic_problem()


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(single_torch_thread):
    """Every test of this module runs on one torch thread (tests/conftest.py)."""
