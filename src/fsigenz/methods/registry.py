"""Registry of zero-shot methods: a name in the parameters → an estimator.

Each entry says how to build the estimator from its parameter block, which parameter sets its
training length (for early stopping on validation; ``None`` for closed-form methods), and whether
its final fit consumes the prototype table of the ``prototypes`` pipeline.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Callable

from fsigenz.methods.base import ZeroShotMethod


def deep_merge(base: dict, override: dict | None) -> dict:
    """Copy of ``base`` with ``override`` merged in, key by key at every depth."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class MethodSpec:
    build: Callable[[dict], ZeroShotMethod]
    steps_parameter: str | None = None
    uses_prototypes: bool = False
    extends: str | None = None  # parameter block this one refines (e.g. tcn refines fsigenz)


def _eszsl(params: dict) -> ZeroShotMethod:
    from fsigenz.methods.eszsl import ESZSL

    return ESZSL(**params)


def _fsigenz(params: dict) -> ZeroShotMethod:
    from fsigenz.methods.fsigenz import FSIGenZClassifier

    return FSIGenZClassifier(**params)


def _ncm(params: dict) -> ZeroShotMethod:
    from fsigenz.methods.ncm import NearestClassMeanClassifier

    # refines the fsigenz block: same MSAS, prototypes and preprocessing; the SCC keys do not apply
    accepted = inspect.signature(NearestClassMeanClassifier).parameters
    return NearestClassMeanClassifier(**{k: v for k, v in params.items() if k in accepted})


def _fclswgan(params: dict) -> ZeroShotMethod:
    from fsigenz.methods.fclswgan import FeatureGeneratingGANClassifier

    return FeatureGeneratingGANClassifier(**params)


METHODS: dict[str, MethodSpec] = {
    "fsigenz": MethodSpec(_fsigenz, steps_parameter="scc.n_steps", uses_prototypes=True),
    "tcn": MethodSpec(_fsigenz, steps_parameter="scc.n_steps", extends="fsigenz"),
    "eszsl": MethodSpec(_eszsl),
    "ncm": MethodSpec(_ncm, uses_prototypes=True, extends="fsigenz"),
    "fclswgan": MethodSpec(_fclswgan, steps_parameter="classifier_steps"),
}


def method_spec(name: str) -> MethodSpec:
    if name not in METHODS:
        raise ValueError(f"model: field 'method': expected one of {sorted(METHODS)}, got '{name}'")
    return METHODS[name]


def method_parameters(name: str, parameter_blocks: dict[str, dict]) -> dict:
    """The resolved parameter block of ``name`` (a refining block is merged onto its base)."""
    spec = method_spec(name)
    own = dict(parameter_blocks.get(name) or {})
    if spec.extends:
        return deep_merge(method_parameters(spec.extends, parameter_blocks), own)
    return own


def build_method(name: str, params: dict) -> ZeroShotMethod:
    return method_spec(name).build(params)
