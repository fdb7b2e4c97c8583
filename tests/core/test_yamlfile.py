"""Strict YAML: a key given twice at any depth is an error with its path and both lines; the rest reads as PyYAML's."""

from __future__ import annotations

import time

import pytest
import yaml

from mlworkflow.core import yamlfile


@pytest.mark.parametrize(
    ("text", "path", "lines"),
    [
        ("a: 1\nb: 2\na: 3\n", "a", (1, 3)),
        ("run:\n  name: x\ndata:\n  path: p\n  target: y\n  target: z\n", "data.target", (5, 6)),
        ("train:\n  spaces:\n    forest:\n      max_depth: [1]\n      max_depth: [2]\n", "train.spaces.forest.max_depth", (4, 5)),
        ("rules:\n  - {k: 1, k: 2}\n", "rules[0].k", (2, 2)),
        ("a: {x: 1}\na: {y: 2}\n", "a", (1, 2)),
        ("1: one\n1.0: again\n", "1.0", (1, 2)),  # the dict would keep one key: equal as Python compares them
        ("true: x\nyes: y\n", "True", (1, 2)),
        ("'k': 1\nk: 2\n", "k", (1, 2)),
    ],
)
def test_a_duplicate_key_names_its_path_and_both_lines(text: str, path: str, lines: tuple[int, int]) -> None:
    with pytest.raises(yamlfile.DuplicateKeyError) as raised:
        yamlfile.loads(text)
    assert (raised.value.path, raised.value.first_line, raised.value.second_line) == (path, *lines)
    assert str(raised.value) == f"key '{path}' is given twice (lines {lines[0]} and {lines[1]})"
    assert isinstance(raised.value, yaml.YAMLError)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb:\n  a: 2\n  c: [1, 2, {a: 3}]\n",  # the same name in different mappings
        "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\n",  # a merge key's value overridden on purpose
        "",
        "- a\n- a\n",
        "k: &x [*x]\n",  # recursive aliases
    ],
)
def test_what_pyyaml_reads_without_a_duplicate_reads_the_same(text: str) -> None:
    assert repr(yamlfile.loads(text)) == repr(yaml.safe_load(text))


def test_python_objects_stay_refused() -> None:
    with pytest.raises(yaml.YAMLError):
        yamlfile.loads("!!python/object/apply:os.system ['true']\n")


def test_an_alias_bomb_is_walked_once_per_node() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10**9 leaves if expanded
    began = time.perf_counter()
    assert len(yamlfile.loads("\n".join(levels) + "\n")["a8"]) == 10
    assert time.perf_counter() - began < 5  # generous: the walk visits ~90 nodes, an expansion would never end
