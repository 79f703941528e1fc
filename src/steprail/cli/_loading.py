"""Finding an action from ``MODULE:ACTION`` (a module path or a ``.py`` file)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from .._orchestrator import error_text
from ..actions import BaseAction
from ._errors import UsageProblem, file_kind, with_article

__all__ = ["load_action"]

_EXAMPLE = "steprail.actions.anchors:AnchorBoxTrainAction"


def _import_file(path: Path) -> ModuleType:
    try:
        kind = file_kind(path)
    except FileNotFoundError:
        raise UsageProblem(f"action file {str(path)!r} does not exist") from None
    except OSError as error:
        raise UsageProblem(f"cannot read action file {str(path)!r}: {error}") from error
    if kind is not None:  # a FIFO would block the import forever, /dev/zero never ends
        raise UsageProblem(f"action file {str(path)!r} is {kind}, not a Python file")
    name = f"_steprail_cli_{path.stem}_{abs(hash(str(path.resolve()))):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageProblem(f"cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: dataclasses and pydantic look their module up by name.
    sys.modules[name] = module
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        raise UsageProblem(f"importing {str(path)!r} raised {error_text(error)}") from error
    return module


def _import_module(name: str) -> ModuleType:
    # The console script does not put the working directory on sys.path; users expect it.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and (name == error.name or name.startswith(error.name + ".")):
            raise UsageProblem(
                f"cannot import module {name!r}: no module named {error.name!r}; "
                f"check the spelling, or run from the folder that holds it (e.g. {_EXAMPLE})"
            ) from error
        raise UsageProblem(f"importing {name!r} failed: {error}") from error
    except Exception as error:
        raise UsageProblem(f"importing {name!r} raised {error_text(error)}") from error


def _actions_in(module: ModuleType) -> list[str]:
    found = []
    for attribute, value in vars(module).items():
        if inspect.isclass(value) and issubclass(value, BaseAction) and value.__module__ == module.__name__:
            found.append(attribute)
    return sorted(found)


def load_action(target: str) -> type[BaseAction[Any]]:
    """Return the action class named by ``target`` (``package.module:Class`` or ``file.py:Class``).

    Raises:
        UsageProblem: saying what is wrong with ``target`` and what is available.
    """
    module_part, sep, attribute = target.rpartition(":")
    if not sep or not module_part or not attribute:
        raise UsageProblem(f"expected MODULE:ACTION, got {target!r} (for example {_EXAMPLE})")
    if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
        module = _import_file(Path(module_part))
    else:
        module = _import_module(module_part)
    value: object = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            actions = _actions_in(module)
            hint = f"; actions in it: {', '.join(actions)}" if actions else "; it defines no action"
            raise UsageProblem(f"{module_part!r} has no attribute {attribute!r}{hint}")
        value = getattr(value, part)
    if not inspect.isclass(value):
        raise UsageProblem(
            f"{target!r} is {with_article(type(value).__name__)}, not a steprail action "
            "(a subclass of steprail.actions.BaseAction)"
        )
    if not issubclass(value, BaseAction):
        raise UsageProblem(f"{target!r} is a class that does not subclass steprail.actions.BaseAction")
    if value.params_model is BaseModel:
        # BaseAction, BaseTrainAction and other generic bases: their params model is still a
        # type variable, so nothing could validate params; running one would only record a
        # failed job with a pydantic internal message.
        generic = value.__name__ + ("[MyParams, ...]" if len(getattr(value, "__parameters__", ())) > 1 else "[MyParams]")
        raise UsageProblem(
            f"{target!r} is an abstract action class: it has no params model of its own; "
            f"pass your subclass (class MyAction({generic}) with MyParams a pydantic model)"
        )
    if module.__name__ != module_part and value.action_name == f"{value.__module__}:{value.__qualname__}":
        # Loaded from a file under a private module name: jobs should name the file instead.
        value.action_name = f"{module_part}:{attribute}"
    return value
