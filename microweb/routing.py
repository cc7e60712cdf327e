"""Shortcuts in front of Werkzeug's matcher, exact by construction.

Werkzeug's state-machine matcher is general (any converter, host matching,
defaults, aliases) and costs several microseconds per request. Most requests
need far less: a fixed path like ``/about`` is a dict lookup, and most dynamic
rules, like ``/users/<int:uid>``, are the only rule of their shape (number of
segments, first segment), so their parts can be tested directly with
Werkzeug's own regexes and converters. The index answers only where the
answer is certain to be Werkzeug's; otherwise it returns None and Werkzeug
decides (404s, 405s, redirects, and every rule it cannot vouch for).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from werkzeug.routing import BaseConverter, Map, Rule, RuleFactory, ValidationError


class _Shape(NamedTuple):
    """A rule taken apart for testing a path's segments directly."""

    rule: Rule
    fixed: list[tuple[int, str]]  # (segment index, text)
    variable: list[tuple[int, re.Pattern[str], list[str]]]  # (segment index, regex, converter group names)
    converters: list[tuple[str, BaseConverter]]


class RuleMap(Map):
    """Werkzeug's ``Map``, with a version number that changes whenever a rule is added."""

    version = 0

    def add(self, rulefactory: RuleFactory) -> None:
        """Add a rule (see ``werkzeug.routing.Map.add``)."""
        super().add(rulefactory)
        self.version += 1


class RouteIndex:
    """Fixed paths, and rule shapes with a single candidate rule, of one version of a map."""

    def __init__(self, url_map: RuleMap, explicit_head: dict[str, str]) -> None:
        self.version = url_map.version
        #: path -> method -> endpoint, for fixed paths
        self.static: dict[str, dict[str, str]] = {}
        #: (number of parts, first segment or None) -> the one rule of that shape
        #: (None where several rules, or a redirect, may answer)
        self.shapes: dict[tuple[int, str | None], _Shape | None] = {}
        #: first segments under which some rule reaches past one shape (e.g. <path:...>)
        self.blocked: set[str | None] = set()
        if url_map.host_matching or url_map.default_subdomain:
            return  # everything goes to Werkzeug
        rules = [rule for rule in url_map.iter_rules() if not rule.build_only]
        self._index_static([rule for rule in rules if not rule._converters], url_map, explicit_head)
        plain = [rule for rule in rules if rule._converters and _plain(rule, url_map)]
        self.blocked = {_first(rule) for rule in rules if rule._converters and not _plain(rule, url_map)}
        if None not in self.blocked:
            self._index_shapes(plain, rules)

    def _index_static(self, rules: list[Rule], url_map: Map, explicit_head: dict[str, str]) -> None:
        claimed: dict[tuple[str, str], set[str]] = {}
        unsure = set()  # paths where Werkzeug's rule order or redirects decide
        for rule in rules:
            if rule.methods is None or not _plain(rule, url_map):
                unsure.add(rule.rule)
            for method in rule.methods or ():
                claimed.setdefault((rule.rule, method), set()).add(str(rule.endpoint))
        for (path, method), endpoints in claimed.items():
            # Every fixed path gets an entry, even with no method the index may answer for: Werkzeug
            # ranks a fixed rule above any dynamic one, so no rule shape may answer for its path.
            methods = self.static.setdefault(path, {})
            if method == "HEAD" and path in explicit_head:
                endpoints = {explicit_head[path]}
            if len(endpoints) == 1 and path not in unsure:
                methods[method] = endpoints.pop()
        for path in unsure:
            self.static.setdefault(path, {})

    def _index_shapes(self, plain: list[Rule], rules: list[Rule]) -> None:
        # Rules that may answer a path of n parts: the plain dynamic rules of n parts, and
        # every rule of n + 1 parts ending in a slash (Werkzeug redirects to those first).
        pools: dict[int, list[Rule]] = {}
        for rule in plain:
            pools.setdefault(len(rule._parts), []).append(rule)
        for rule in rules:
            if rule._parts[-1].static and rule._parts[-1].content == "" and len(rule._parts) > 2:
                pools.setdefault(len(rule._parts) - 1, []).append(rule)
        for size, pool in pools.items():
            for first in {_first(rule) for rule in pool}:
                # A path starting with `first` may match rules starting with it or with a
                # variable; a path starting with anything else (key None), only the latter.
                matching = [rule for rule in pool if _first(rule) in (first, None)]
                only = matching[0] if len(matching) == 1 else None
                exact = only is not None and len(only._parts) == size and only in plain
                self.shapes[(size, first)] = _shape(only) if exact and only else None

    def match(self, path: str, method: str) -> tuple[Rule, dict[str, Any]] | None:
        """The rule and values Werkzeug would match for a path no fixed rule has, or None."""
        segments = path.split("/")
        if segments[0] or segments[1] in self.blocked:  # no leading slash (CONNECT host:port): Werkzeug decides
            return None
        size = len(segments) + 1  # Werkzeug's parts start with the (empty) domain
        key = (size, segments[1])
        entry = self.shapes[key] if key in self.shapes else self.shapes.get((size, None))
        if entry is None:
            return None
        if entry.rule.methods is not None and method not in entry.rule.methods:
            return None
        for index, text in entry.fixed:
            if segments[index] != text:
                return None
        values: list[str] = []
        for index, pattern, groups in entry.variable:
            found = pattern.match(segments[index])
            if found is None:
                return None
            values.extend(map(found.group, groups))
        try:
            return entry.rule, {name: conv.to_python(value) for (name, conv), value in zip(entry.converters, values)}  # noqa: B905
        except ValidationError:
            return None


def _plain(rule: Rule, url_map: Map) -> bool:
    """Whether a rule matches exactly one path segment per part and redirects nowhere."""
    if rule.websocket or rule.defaults or rule.redirect_to or rule.alias or rule.subdomain or rule.host:
        return False
    if any(other.defaults for other in url_map._rules_by_endpoint.get(rule.endpoint, ())):
        return False  # Werkzeug may redirect to a sibling rule that provides defaults
    return not any(part.final or part.suffixed for part in rule._parts)


def _first(rule: Rule) -> str | None:
    """The rule's first path segment, or None when it is variable."""
    part = rule._parts[2] if len(rule._parts) > 2 else rule._parts[-1]
    return part.content if part.static else None


def _shape(rule: Rule) -> _Shape:
    shape = _Shape(rule, [], [], list(rule._converters.items()))
    for index, part in enumerate(rule._parts[1:]):  # part n + 1 tests path segment n
        if part.static:
            shape.fixed.append((index, part.content))
            continue
        pattern = re.compile(part.content)
        groups = [name for name in pattern.groupindex if name.startswith("__werkzeug_")]
        shape.variable.append((index, pattern, sorted(groups, key=lambda name: int(name[11:]))))
    return shape
