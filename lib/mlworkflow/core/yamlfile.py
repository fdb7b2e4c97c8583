"""YAML read strictly: a mapping key given twice is an error naming its path and both lines (PyYAML keeps the last)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode


class DuplicateKeyError(yaml.YAMLError):
    """A mapping of the document holds the same key twice."""

    def __init__(self, path: str, first_line: int, second_line: int) -> None:
        self.path, self.first_line, self.second_line = path, first_line, second_line
        super().__init__(f"key '{path}' is given twice (lines {first_line} and {second_line})")


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a duplicate key at any depth before building the document."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        self.check_keys(node, "", set())
        return self.construct_document(node)

    def check_keys(self, node: Node, path: str, seen: set[int]) -> None:
        """Walk the node graph once (an alias reached twice is checked once, so alias bombs stay linear)."""
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            for position, item in enumerate(node.value):
                self.check_keys(item, f"{path}[{position}]", seen)
        elif isinstance(node, MappingNode):
            self.check_mapping(node, path, seen)

    def check_mapping(self, node: MappingNode, path: str, seen: set[int]) -> None:
        """Refuse a key equal to an earlier one of the same mapping, compared as the built dict would (1 == 1.0)."""
        lines: dict[Hashable, int] = {}
        for key_node, value_node in node.value:
            value = self.key_of(key_node)
            where = f"{path}.{value}" if path else str(value)
            line = key_node.start_mark.line + 1
            if value is not None and value in lines:
                raise DuplicateKeyError(where, lines[value], line)
            if value is not None:
                lines[value] = line
            self.check_keys(value_node, where, seen)

    def key_of(self, node: Node) -> Hashable | None:
        """A scalar key as YAML reads it (`yes` and `true` are both True); None for merge and complex keys."""
        if node.tag == "tag:yaml.org,2002:merge" or not isinstance(node, yaml.ScalarNode):
            return None
        value = self.construct_object(node)
        return value if isinstance(value, Hashable) else None


def loads(text: str) -> Any:
    """Parse one YAML document safely, refusing duplicate keys (DuplicateKeyError, a yaml.YAMLError)."""
    return yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass: no arbitrary objects
