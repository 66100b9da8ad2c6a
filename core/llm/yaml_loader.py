"""A bounded YAML loader for every file or text a user or visitor can supply.

    data, root = load_yaml(text, source="agentic-config.yaml")         # or error=RulesError
    data, root = load_yaml("a: &x [1, 2]\\nb: *x\\n")                   # ({'a': [1, 2], 'b': [1, 2]}, MappingNode)

PyYAML's safe loader builds any document it is given. A 525-byte "billion laughs" (nine anchors, each
aliasing the previous one nine times) is a small node graph that becomes a billion values once anything
walks it, and deep nesting recurses in the composer until Python gives up. So before anything is built
the text is checked for size, and while the node graph is composed its depth, its aliases and the size it
would have with every alias expanded are counted. Any limit crossed, or any YAML syntax error, raises
`error` (a `ConfigError`) naming the source, the line where there is one, the limit and what to do.
"""

from __future__ import annotations

from typing import Any

import yaml

from core.errors import ConfigError

MAX_YAML_BYTES = 256 * 1024
MAX_YAML_DEPTH = 50
MAX_YAML_ALIASES = 100
MAX_YAML_NODES = 100_000          # values in the document with every alias expanded


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts depth and aliases as it goes (the composer is recursive)."""

    max_depth = MAX_YAML_DEPTH
    max_aliases = MAX_YAML_ALIASES

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self.violation: tuple[str, int | None] | None = None

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > self.max_aliases:
                raise _LimitCrossed(f"has more than {self.max_aliases} aliases (*name)", self.peek_event().start_mark)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise _LimitCrossed(f"is nested more than {self.max_depth} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _LimitCrossed(Exception):
    def __init__(self, what: str, mark: Any = None):
        self.what, self.mark = what, mark
        super().__init__(what)


def load_yaml(text: str, *, source: str | None = None, error: type[ConfigError] = ConfigError,
              max_bytes: int = MAX_YAML_BYTES, max_depth: int = MAX_YAML_DEPTH,
              max_aliases: int = MAX_YAML_ALIASES, max_nodes: int = MAX_YAML_NODES) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document within the limits: (the data, its root node for line numbers), or (None, None)
    for an empty document. Raises `error` for malformed YAML or a limit crossed; never MemoryError or
    RecursionError."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise error(f"the YAML is {size:,} bytes; the limit is {max_bytes:,}. Shorten it.", source=source)
    loader = None
    try:
        loader = _BoundedLoader(text)          # the reader already refuses control characters here
        loader.max_depth, loader.max_aliases = max_depth, max_aliases
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_expanded_size(root, max_nodes)
        return loader.construct_document(root), root
    except _LimitCrossed as crossed:
        raise error(f"the YAML {crossed.what}; that is refused as a guard against YAML bombs. "
                    "Write the values out plainly, without deep nesting or many aliases.", source=source,
                    line=crossed.mark.line + 1 if crossed.mark is not None else None) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or "malformed YAML"
        raise error(f"invalid YAML: {problem}", source=source, line=mark.line + 1 if mark else None) from None
    except RecursionError:      # a guard of last resort: max_depth is far below the interpreter's limit
        raise error("the YAML is nested too deeply to read", source=source) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_expanded_size(root: yaml.Node, max_nodes: int) -> None:
    """Count the values the document would hold with every alias expanded (each shared node counted once per
    use, computed once per node), and refuse a cycle (an alias inside its own anchor)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > max_nodes:
                raise _LimitCrossed(f"would hold more than {max_nodes:,} values once its aliases are expanded", node.start_mark)
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _LimitCrossed("has an alias inside its own anchor (a cycle)", node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
