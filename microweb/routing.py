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

from ._werkzeug import converter_groups, rule_converters, rule_parts


class _Shape(NamedTuple):
    """A rule taken apart for testing a path's segments directly."""

    rule: Rule
    fixed: list[tuple[int, str]]  # (segment index, text)
    variable: list[tuple[int, re.Pattern[str], list[str]]]  # (segment index, regex, converter group names)
    converters: list[tuple[str, BaseConverter]]


class _Facts(NamedTuple):
    """What the index needs to know of one rule, computed once per rule (the build stays linear)."""

    rule: Rule
    parts: list[Any]  # Werkzeug's RuleParts, the (empty) domain part first
    first: str | None  # the first path segment, None when it is variable
    dynamic: bool  # has converters
    plain: bool  # one path segment per part, and redirects nowhere


class RuleMap(Map):
    """Werkzeug's ``Map``, with a version number that changes whenever a rule is added."""

    version = 0

    def add(self, rulefactory: RuleFactory) -> None:
        """Add a rule (see ``werkzeug.routing.Map.add``)."""
        super().add(rulefactory)
        self.version += 1


class RouteIndex:
    """Fixed paths, and rule shapes with a single candidate rule, of one version of a map.

    Built by the first request after a rule is added, in time linear in the number
    of rules (one pass; tests/test_route_index.py counts the calls), so a large
    app's first request stays short (a CGI process builds it on every request).
    """

    def __init__(self, url_map: RuleMap, explicit_head: dict[str, str]) -> None:
        self.version = url_map.version
        #: path -> method -> endpoint, for fixed paths
        self.static: dict[str, dict[str, str]] = {}
        #: (number of parts, first segment or None) -> the one rule of that shape, taken apart on
        #: first use (None where several rules, or a redirect, may answer)
        self.shapes: dict[tuple[int, str | None], _Shape | _Facts | None] = {}
        #: first segments under which some rule reaches past one shape (e.g. <path:...>)
        self.blocked: set[str | None] = set()
        if url_map.host_matching or url_map.default_subdomain:
            return  # everything goes to Werkzeug
        facts = _facts_of(url_map)
        self._index_static([fact for fact in facts if not fact.dynamic], explicit_head)
        self.blocked = {fact.first for fact in facts if fact.dynamic and not fact.plain}
        if None not in self.blocked:
            self._index_shapes(facts)

    def _index_static(self, facts: list[_Facts], explicit_head: dict[str, str]) -> None:
        claimed: dict[tuple[str, str], set[str]] = {}
        unsure = set()  # paths where Werkzeug's rule order or redirects decide
        for rule, _, _, _, plain in facts:
            if rule.methods is None or not plain:
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

    def _index_shapes(self, facts: list[_Facts]) -> None:
        # Rules that may answer a path of n parts: the plain dynamic rules of n parts, and
        # every rule of n + 1 parts ending in a slash (Werkzeug redirects to those first);
        # by size, then by first segment (None: variable), in one pass over the rules.
        pools: dict[int, dict[str | None, list[_Facts]]] = {}
        for fact in facts:
            parts = fact.parts
            if fact.dynamic and fact.plain:
                pools.setdefault(len(parts), {}).setdefault(fact.first, []).append(fact)
            if parts[-1].static and parts[-1].content == "" and len(parts) > 2:
                pools.setdefault(len(parts) - 1, {}).setdefault(fact.first, []).append(fact)
        for size, groups in pools.items():
            anywhere = len(groups.get(None, ()))
            for first, group in groups.items():
                # A path starting with `first` may match rules starting with it or with a
                # variable; a path starting with anything else (key None), only the latter.
                candidates = len(group) + (anywhere if first is not None else 0)
                only = group[0] if candidates == 1 else None
                exact = only is not None and len(only.parts) == size and only.dynamic and only.plain
                # PERF: taken apart by match() on first use: the first request of an app of
                # 10,000 rules needs one of them, and the build made the garbage collector run often.
                self.shapes[(size, first)] = only if exact else None

    def match(self, path: str, method: str) -> tuple[Rule, dict[str, Any]] | None:
        """The rule and values Werkzeug would match for a path no fixed rule has, or None."""
        segments = path.split("/")
        if segments[0] or segments[1] in self.blocked:  # no leading slash (CONNECT host:port): Werkzeug decides
            return None
        entry = self._shape_for(len(segments) + 1, segments[1])  # Werkzeug's parts start with the domain
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

    def _shape_for(self, size: int, first: str) -> _Shape | None:
        """The one rule a path of ``size`` parts starting with ``first`` may match, taken apart; or None."""
        shapes = self.shapes
        key: tuple[int, str | None] = (size, first)
        if key not in shapes:
            key = (size, None)
        entry = shapes.get(key)
        if isinstance(entry, _Facts):
            entry = shapes[key] = _shape(entry)  # the same value whichever thread gets here first
        return entry


def _facts_of(url_map: Map) -> list[_Facts]:
    """The facts of every rule that matches requests (not build-only), in the map's order."""
    # Werkzeug may redirect to a sibling rule of the same endpoint that provides defaults.
    defaulted = {rule.endpoint for rule in url_map.iter_rules() if rule.defaults}
    facts = []
    for rule in url_map.iter_rules():
        if rule.build_only:
            continue
        parts = rule_parts(rule)
        part = parts[2] if len(parts) > 2 else parts[-1]
        first = part.content if part.static else None
        plain = rule.endpoint not in defaulted and _plain(rule, parts)
        facts.append(_Facts(rule, parts, first, bool(rule_converters(rule)), plain))
    return facts


def _plain(rule: Rule, parts: list[Any]) -> bool:
    """Whether a rule matches exactly one path segment per part and redirects nowhere by itself."""
    if rule.websocket or rule.defaults or rule.redirect_to or rule.alias or rule.subdomain or rule.host:
        return False
    return not any(part.final or part.suffixed for part in parts)


def _shape(fact: _Facts) -> _Shape:
    shape = _Shape(fact.rule, [], [], list(rule_converters(fact.rule).items()))
    for index, part in enumerate(fact.parts[1:]):  # part n + 1 tests path segment n
        if part.static:
            shape.fixed.append((index, part.content))
            continue
        pattern = re.compile(part.content)
        shape.variable.append((index, pattern, converter_groups(pattern.groupindex)))
    return shape
