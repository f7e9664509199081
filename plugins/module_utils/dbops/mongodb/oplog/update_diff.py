"""Applying MongoDB's update descriptions to a document, in Python.

Two shapes reach us:
- the oplog's "$v: 2" delta ({"diff": {...}}): "d" deletes fields, "u" sets existing fields in place, "i" appends new
  fields, "s<field>" descends into a sub-document or, when the sub-diff has "a": true, into an array ("l" = new
  length, "u<index>" = set element, "s<index>" = descend into element);
- a change stream's updateDescription (updatedFields with dotted paths, removedFields, truncatedArrays and, with
  showExpandedEvents, disambiguatedPaths). It is converted to the first shape, so replay has one code path.

Both are applied to the current document fetched from the target and written back whole. Applying a delta twice
gives the same document, which is what makes replay idempotent.
"""

from __future__ import annotations

import copy
from typing import Any


class DiffError(ValueError):
    """A delta that does not fit the document it is applied to."""


def apply_diff(doc: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    """A new document: doc with the oplog delta applied (doc itself is left as it was)."""
    out = copy.deepcopy(doc)
    _apply_object(out, diff)
    return out


def _apply_object(target: dict[str, Any], diff: dict[str, Any]) -> None:
    for name in (diff.get("d") or {}):
        target.pop(name, None)
    for name, value in (diff.get("u") or {}).items():
        target[name] = copy.deepcopy(value)  # an existing key keeps its position in a Python dict
    for name, value in (diff.get("i") or {}).items():
        target.pop(name, None)  # "insert" appends, also on a second application
        target[name] = copy.deepcopy(value)
    for key, sub in diff.items():
        if not key.startswith("s") or key == "s":
            continue
        name = key[1:]
        _descend(target, name, sub)


def _descend(container: dict[str, Any] | list[Any], name: Any, sub: dict[str, Any]) -> None:
    is_array = bool(sub.get("a"))
    current = container[name] if _has(container, name) else None
    if is_array:
        if not isinstance(current, list):
            current = []
            _set(container, name, current)
        _apply_array(current, sub)
    else:
        if not isinstance(current, dict):
            current = {}
            _set(container, name, current)
        _apply_object(current, sub)


def _has(container: dict[str, Any] | list[Any], name: Any) -> bool:
    if isinstance(container, list):
        return isinstance(name, int) and 0 <= name < len(container)
    return name in container


def _set(container: dict[str, Any] | list[Any], name: Any, value: Any) -> None:
    if isinstance(container, list):
        while len(container) <= name:
            container.append(None)
    container[name] = value


def _apply_array(target: list[Any], diff: dict[str, Any]) -> None:
    if "l" in diff:
        length = int(diff["l"])
        del target[length:]
        while len(target) < length:
            target.append(None)
    for key, value in diff.items():
        if key in ("a", "l"):
            continue
        kind, index_text = key[0], key[1:]
        if not index_text.isdigit():
            raise DiffError(f"unexpected array delta field {key!r}")
        index = int(index_text)
        if kind == "u":
            _set(target, index, copy.deepcopy(value))
        elif kind == "s":
            _descend(target, index, value)
        else:
            raise DiffError(f"unexpected array delta field {key!r}")


UPDATE_DESCRIPTION_KEYS = ("updatedFields", "removedFields", "truncatedArrays")


def oplog_delta(diff: dict[str, Any]) -> dict[str, Any]:
    """The mongod delta for an oplog "$v: 2" update's diff.

    SecantusDB writes the change-stream shape (updatedFields/removedFields/truncatedArrays) into its oplog instead of
    mongod's d/u/i/s<field> delta; those keys cannot appear in a mongod delta, so the shape is unambiguous.
    """
    if any(key in diff for key in UPDATE_DESCRIPTION_KEYS):
        return diff_from_update_description(diff)
    return diff


def diff_from_update_description(description: dict[str, Any]) -> dict[str, Any]:
    """A "$v: 2" style delta equivalent to a change stream's updateDescription.

    Dotted paths are ambiguous ("a.1" may be array element 1 or field "1"); disambiguatedPaths resolves them when the
    server sends it (showExpandedEvents); otherwise a numeric component is taken as an array index.
    """
    diff: dict[str, Any] = {}
    explicit = description.get("disambiguatedPaths") or {}

    def parts(path: str) -> list[Any]:
        if path in explicit:
            return list(explicit[path])
        return [int(p) if p.isdigit() else p for p in path.split(".")]

    def node_for(components: list[Any], depth: int) -> dict[str, Any]:
        """The delta node for the container at components[:depth] (an array when the next component is an index)."""
        node = diff
        for index in range(depth):
            key = f"s{components[index]}"
            if key not in node:
                child_is_array = index + 1 < len(components) and isinstance(components[index + 1], int)
                node[key] = {"a": True} if child_is_array else {}
            node = node[key]
        return node

    for path, value in (description.get("updatedFields") or {}).items():
        comps = parts(path)
        node = node_for(comps, len(comps) - 1)
        last = comps[-1]
        if node.get("a"):
            node[f"u{last}"] = value
        else:
            node.setdefault("u", {})[str(last)] = value
    for path in description.get("removedFields") or []:
        comps = parts(path)
        node = node_for(comps, len(comps) - 1)
        if node.get("a"):
            node[f"u{comps[-1]}"] = None  # $unset of an array element leaves null in its place
        else:
            node.setdefault("d", {})[str(comps[-1])] = False
    for item in description.get("truncatedArrays") or []:
        comps = parts(item["field"])
        node = node_for(comps, len(comps))
        node["a"] = True
        node["l"] = int(item["newSize"])
    return diff
