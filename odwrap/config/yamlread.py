"""YAML from untrusted text: yaml.SafeLoader plus the refusals it lacks.

A key given twice, aliases that expand past a limit (a billion-laughs bomb shares its nodes, so
it is small in memory until something walks it), an alias inside its own anchor (a recursive
structure), nesting deeper than a limit, and values that Python cannot convert (an integer of
5000 digits) are each one InputError naming the source and, where known, the line.
"""

from collections.abc import Hashable

import yaml

from odwrap.errors import InputError, shown

MAX_VALUES = 100_000  # values of a document with its aliases expanded: a spec has a few hundred
MAX_DEPTH = 32  # levels of nesting, aliases expanded: a spec has four


class _Refused(yaml.YAMLError):
    def __init__(self, problem: str, mark=None):
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice (plain YAML keeps the last silently), and
    checks the composed document before any of it is constructed."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep",
                               self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, {}, set(), 1)
        return node


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expanded_size(node, sizes: dict, inside: set, depth: int) -> int:
    """Values under NODE with every alias expanded; each shared node is counted once per use
    but walked once. Refuses a node inside itself, too many values, too deep a nesting."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in inside:
        raise _Refused("an alias refers to the anchor it is inside (a recursive structure)",
                       node.start_mark)
    if depth > MAX_DEPTH:
        raise _Refused(f"aliases nest more than {MAX_DEPTH} levels deep", node.start_mark)
    inside.add(key)
    total = 1
    for child in _children(node):
        total += _expanded_size(child, sizes, inside, depth + 1)
        if total > MAX_VALUES:
            raise _Refused(f"more than {MAX_VALUES} values with the aliases expanded (an alias "
                           "bomb?)", node.start_mark)
    inside.discard(key)
    sizes[key] = total
    return total


def _unique_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            continue  # construct_mapping says why
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{shown(key)}'",
                                                    key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_yaml(text: str, source: str, lines: bool = True):
    """The one YAML document of TEXT; InputError 'SOURCE:LINE: YAML ...' when it does not
    load (`lines`: whether SOURCE is a file whose lines mean something)."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except _Refused as exc:
        raise InputError(f"{_where(source, exc.problem_mark, lines)}: YAML refused: "
                         f"{exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{_where(source, mark, lines)}: YAML syntax error: {problem}") from None
    except (ValueError, OverflowError) as exc:  # int() of 5000 digits, a date of month 13
        raise InputError(f"{source}: a YAML value cannot be read: {exc}") from None


def _where(source: str, mark, lines: bool) -> str:
    return f"{source}:{mark.line + 1}" if mark is not None and lines else source
