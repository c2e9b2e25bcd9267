"""Registry of zero-shot methods: a name in the parameters → an estimator.

Each entry says how to build the estimator from its parameter block and declares what the method
can do, so that no caller probes an estimator (``inspect.signature``, ``hasattr``) to find out.
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass

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
    """A method of the registry and its capabilities.

    - ``estimator``: ``"module:Class"`` of the estimator, built from its (resolved) settings; its
      constructor's arguments and defaults are the method's settings and library defaults
      (:mod:`fsigenz.methods.settings`);
    - ``steps_parameter``: dotted setting that sets its training length, chosen by early stopping on
      validation (``None`` for closed-form methods);
    - ``uses_prototypes``: its final fit takes ``prototypes=`` (L, P, d), the table of the ``prototypes``
      pipeline, made from its own ``msas`` / ``prototypes`` / ``l2_normalize`` settings;
    - ``extends`` / ``inherits``: the parameter block this one refines, and which of its keys it takes
      (``None``: all of them);
    - ``accepts_new_classes``: ``decision_function(features, class_attributes=...)`` scores attribute
      columns of classes it was not trained on;
    """

    estimator: str
    steps_parameter: str | None = None
    uses_prototypes: bool = False
    extends: str | None = None
    inherits: tuple[str, ...] | None = None
    accepts_new_classes: bool = False

    @property
    def estimator_class(self) -> type:
        module, _, name = self.estimator.partition(":")
        return getattr(importlib.import_module(module), name)

    def build(self, params: dict) -> ZeroShotMethod:
        return self.estimator_class(**params)


_FSIGENZ = "fsigenz.methods.fsigenz:FSIGenZClassifier"

METHODS: dict[str, MethodSpec] = {
    "fsigenz": MethodSpec(
        _FSIGENZ,
        steps_parameter="scc.n_steps",
        uses_prototypes=True,
        accepts_new_classes=True,
    ),
    "tcn": MethodSpec(
        _FSIGENZ,
        steps_parameter="scc.n_steps",
        extends="fsigenz",
        accepts_new_classes=True,
    ),
    "eszsl": MethodSpec("fsigenz.methods.eszsl:ESZSL", accepts_new_classes=True),
    # refines the fsigenz block: same MSAS, prototypes and preprocessing; the SCC keys do not apply
    "ncm": MethodSpec(
        "fsigenz.methods.ncm:NearestClassMeanClassifier",
        uses_prototypes=True,
        extends="fsigenz",
        inherits=("msas", "prototypes", "l2_normalize"),
    ),
    "fclswgan": MethodSpec(
        "fsigenz.methods.fclswgan:FeatureGeneratingGANClassifier", steps_parameter="classifier_steps"
    ),
    "cadavae": MethodSpec("fsigenz.methods.cadavae:CADAVAEClassifier", steps_parameter="classifier_steps"),
    "tfvaegan": MethodSpec("fsigenz.methods.tfvaegan:TFVAEGANClassifier", steps_parameter="classifier_steps"),
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
        base = method_parameters(spec.extends, parameter_blocks)
        if spec.inherits is not None:
            base = {key: value for key, value in base.items() if key in spec.inherits}
        return deep_merge(base, own)
    return own


def build_method(name: str, params: dict) -> ZeroShotMethod:
    return method_spec(name).build(params)
