"""A YAML reader for params files: JSON's data model, YAML 1.2 core-schema scalars.

PyYAML's ``safe_load`` follows YAML 1.1: ``012`` is the octal 10, ``yes``/``no``/``on``/``off``
are booleans, ``2024-01-01`` becomes a ``date``, and the tags ``!!binary``, ``!!timestamp``,
``!!set``, ``!!omap`` and ``!!pairs`` build values JSON cannot hold. A duplicated key silently
keeps the last value, and an alias (``*name``) lets a few lines stand for millions of values.
This loader resolves plain scalars like YAML 1.2's core schema (``true``/``false``, ``null``/``~``,
decimal, ``0o`` octal and ``0x`` hex integers, floats with ``.inf``/``.nan``; anything else is
text), builds only mappings, lists, text, numbers, booleans and null, and refuses aliases and
duplicated keys with the line and column.

Imported only for YAML params files: PyYAML takes a while to import.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

__all__ = ["ParamsYamlLoader"]

_JSON_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "str", "seq", "map")
)


class ParamsYamlLoader(yaml.SafeLoader):
    """See the module's docstring: ``yaml.load(text, Loader=ParamsYamlLoader)``."""

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # PyYAML's stubs leave it untyped
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in params files; write the value out", event.start_mark
            )
        return super().compose_node(parent, index)  # type: ignore[arg-type]  # as above

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise ConstructorError(None, None, "a key must be text, a number or a boolean", key_node.start_mark)
            if key in seen:
                first = seen[key].start_mark
                raise ConstructorError(
                    None,
                    None,
                    f"the key {key!r} is given twice (first on line {first.line + 1}); keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def refuse_tag(self, node: Node) -> object:
        """Any tag but those of JSON's values (``!!binary``, ``!!timestamp``, ``!!set``, ...)."""
        raise ConstructorError(
            None,
            None,
            f"the tag {node.tag!r} is not allowed in params files: they hold text, numbers, booleans, "
            "null, lists and mappings",
            node.start_mark,
        )

    def construct_core_int(self, node: ScalarNode) -> int:
        """``12``, ``-3``, ``0o17`` (octal), ``0x1F`` (hex): never YAML 1.1's ``012`` octal."""
        text = str(self.construct_scalar(node))
        sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        return sign * int(digits, 10)


# Only what builds JSON's values; an explicit !!binary, !!timestamp, !!set, !!omap, !!pairs or
# !!python/... tag then fails with "could not determine a constructor for the tag".
ParamsYamlLoader.yaml_constructors = {
    tag: constructor for tag, constructor in yaml.SafeLoader.yaml_constructors.items() if tag in _JSON_TAGS
}
ParamsYamlLoader.add_constructor("tag:yaml.org,2002:int", ParamsYamlLoader.construct_core_int)
ParamsYamlLoader.add_constructor(None, ParamsYamlLoader.refuse_tag)  # any other tag

# YAML 1.2 core schema resolution of plain scalars (everything else is text).
ParamsYamlLoader.yaml_implicit_resolvers = {}
ParamsYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
ParamsYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
ParamsYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
ParamsYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
