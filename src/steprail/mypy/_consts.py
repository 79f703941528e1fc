"""Full names of the steprail objects the plugin knows about, and a few literal facts.

Kept in one place so the plugin entry can dispatch from ``Final`` tables and a rename in the
core shows up here, once.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BASE_CONTEXT",
    "BUILTIN_ATTRIBUTES",
    "COMPUTED_DEFAULT_NAMES",
    "BASE_STEP",
    "INSERT_AFTER",
    "INSERT_BEFORE",
    "KNOWN_PREFIXES",
    "LOGGING_STEP",
    "METADATA_KEY",
    "NAME_TAKING_STEPS",
    "ORCHESTRATOR",
    "REGISTER",
    "REGISTRY",
    "REGISTRY_STEP_METHODS",
    "RETRY_POLICY",
    "TIME_LIMIT_STEP",
    "TIMING_STEP",
    "UNREGISTER",
    "TRAIN_MODEL_STEP",
    "VALIDATION_STEP",
    "WEIGHT_MAX",
    "WEIGHT_MIN",
    "WORKFLOW",
    "WRAPPER_STEP",
]

BASE_STEP: Final = "steprail._step.BaseStep"
BASE_CONTEXT: Final = "steprail._context.BaseStepContext"
REGISTRY: Final = "steprail._registry.StepRegistry"
ORCHESTRATOR: Final = "steprail._orchestrator.Orchestrator"
RETRY_POLICY: Final = "steprail._retry.RetryPolicy"
TIME_LIMIT_STEP: Final = "steprail._timeout.TimeLimitStep"
WRAPPER_STEP: Final = "steprail._wrappers.WrapperStep"
LOGGING_STEP: Final = "steprail._wrappers.LoggingStep"
TIMING_STEP: Final = "steprail._wrappers.TimingStep"
VALIDATION_STEP: Final = "steprail._wrappers.ValidationStep"
TRAIN_MODEL_STEP: Final = "steprail.actions.train.TrainModelStep"
#: ``Workflow(registry, context)``: the registry and context a step-based action runs.
WORKFLOW: Final = "steprail.actions._base.Workflow"

REGISTER: Final = f"{REGISTRY}.register"
INSERT_BEFORE: Final = f"{REGISTRY}.insert_before"
INSERT_AFTER: Final = f"{REGISTRY}.insert_after"
UNREGISTER: Final = f"{REGISTRY}.unregister"

#: Registry methods that take a step (checked for its context type).
REGISTRY_STEP_METHODS: Final = frozenset({REGISTER, INSERT_BEFORE, INSERT_AFTER})

#: Name prefixes of the core wrappers. The semantic pass also records ``prefix`` literals in the
#: class metadata; these are the fallback when a wrapper's metadata is missing.
KNOWN_PREFIXES: Final = {LOGGING_STEP: "logged_", TIMING_STEP: "timed_"}

#: steprail's own steps whose ``__init__`` takes the step's ``name`` and ``progress_weight``
#: and passes both on unchanged. mypy does not keep
#: the method bodies of installed packages, so the plugin cannot see that these properties
#: return what ``__init__`` stored; the defaults are still read from the signatures.
NAME_TAKING_STEPS: Final = frozenset(
    {
        VALIDATION_STEP,
        "steprail.datasets._steps.ConfiguredStep",
        "steprail.datasets._steps.ExportDatasetStep",
        "steprail.datasets._steps.ConvertDatasetStep",
        "steprail.actions.train.TrainModelStep",
        "steprail.actions.train.UploadModelStep",
    }
)

#: Where steprail's own steps keep what their ``name``/``progress_weight`` properties return
#: (their property bodies are not kept by mypy for an installed package).
BUILTIN_ATTRIBUTES: Final = {"name": "_name", "progress_weight": "_weight"}

#: Built-in steps whose default name is computed from another argument: ``class -> (prefix,
#: parameter, its position, its default)``. ``ConvertDatasetStep("coco")`` is named
#: ``convert_to_coco``, ``ConvertDatasetStep()`` ``convert_to_yolo``. A test checks this against
#: the real class.
COMPUTED_DEFAULT_NAMES: Final = {
    "steprail.datasets._steps.ConvertDatasetStep": ("convert_to_", "target_format", 0, "yolo"),
}

WEIGHT_MIN: Final = 0.0
WEIGHT_MAX: Final = 1.0

#: Key of the plugin's entry in ``TypeInfo.metadata`` (serialized in mypy's cache).
METADATA_KEY: Final = "steprail"
