"""Shortcuts in front of Werkzeug's matcher, exact by construction.

Werkzeug's state-machine matcher is general (any converter, host matching,
defaults, aliases) and costs several microseconds per request. Most requests
need far less: a fixed path like ``/about`` is a dict lookup, and most dynamic
rules, like ``/users/<int:uid>``, are the only rule of their shape (number of
segments, first segment), so their parts can be tested directly with
Werkzeug's own regexes and converters. The index answers only where the
answer is certain to be Werkzeug's; otherwise it returns None and Werkzeug
decides (404s, 405s, redirects, and every rule it cannot vouch for).

Building URLs likewise: ``MapAdapter.build`` looks the endpoint's rules up,
checks them and quotes every value on each call. :meth:`RuleMapAdapter.build_url`
builds through a function compiled once per endpoint from the rules' own
pieces and converters, and hands Werkzeug every case it does not cover.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any, NamedTuple
from urllib.parse import quote, quote_plus

from werkzeug.datastructures import iter_multi_items
from werkzeug.routing import BaseConverter, IntegerConverter, Map, MapAdapter, Rule, RuleFactory, ValidationError

from ._werkzeug import converter_groups, rule_converters, rule_parts, rule_trace

#: Builds the URL of an endpoint from its values and the app's root URL (ending in a slash); None
#: where Werkzeug's own builder decides (e.g. a value missing: its BuildError). With the external
#: root URL as well (from ``microweb.url_for``), the values' ``_external`` and ``_anchor`` are
#: url_for's keywords; without it (None) they are left to Werkzeug.
Builder = Callable[[Mapping[str, Any], str, "str | None"], "str | None"]


class _Shape(NamedTuple):
    """A rule taken apart for testing a path's variable segments directly (its fixed ones are its key)."""

    rule: Rule
    methods: frozenset[str] | None  # the rule's
    #: The rule's values from a path's segments (a dict of the request's own), or None where a
    #: segment does not fit; a converter's ValidationError as it is.
    values: Callable[[list[str]], dict[str, Any] | None]


#: Werkzeug's regex of a whole segment for ``<name>`` (any text) and for ``<int:name>``: a path's
#: segments hold no slash, so these are "not empty" and ``str.isdecimal`` (``\d`` is Unicode's Nd).
_WHOLE_SEGMENT = {r"(?P<__werkzeug_0>[^/]{1,})\Z": 0, r"(?P<__werkzeug_0>\d+)\Z": 1}
_ANY, _DIGITS = 0, 1


class _Facts(NamedTuple):
    """What the index needs to know of one rule, computed once per rule (the build stays linear)."""

    rule: Rule
    parts: list[Any]  # Werkzeug's RuleParts, the (empty) domain part first
    first: str | None  # the first path segment, None when it is variable
    dynamic: bool  # has converters
    plain: bool  # one path segment per part, and redirects nowhere


class RuleMap(Map):
    """Werkzeug's ``Map``, with a version number that changes whenever a rule is added,
    and URL builders compiled per endpoint (see :meth:`RuleMapAdapter.build_url`)."""

    version = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: endpoint -> its compiled builder, filled on first use; emptied when a rule is added
        self.builders: dict[Any, Builder] = {}
        super().__init__(*args, **kwargs)

    def add(self, rulefactory: RuleFactory) -> None:
        """Add a rule (see ``werkzeug.routing.Map.add``)."""
        super().add(rulefactory)
        self.version += 1
        self.builders.clear()  # the same dict: adapters hold it

    def bind(self, *args: Any, **kwargs: Any) -> RuleMapAdapter:
        """A :class:`RuleMapAdapter` (see ``werkzeug.routing.Map.bind``)."""
        a = super().bind(*args, **kwargs)
        return RuleMapAdapter(
            self, a.server_name, a.script_name, a.subdomain, a.url_scheme, a.path_info, a.default_method, a.query_args
        )

    def builder(self, endpoint: Any) -> Builder:
        """The compiled builder of ``endpoint`` (compiled on first use)."""
        builder = self.builders.get(endpoint)
        if builder is None:
            version = self.version
            builder = _compile_endpoint(self, endpoint)
            # Not kept if a rule came in meanwhile (another thread); nor for an endpoint starting with
            # ".", which microweb.url_for, looking builders up directly, would otherwise take as absolute.
            if version == self.version and not (isinstance(endpoint, str) and endpoint[:1] == "."):
                self.builders[endpoint] = builder
        return builder


class RuleMapAdapter(MapAdapter):
    """Werkzeug's ``MapAdapter``, with :meth:`build_url`, Werkzeug's ``build`` made cheap."""

    def __init__(self, url_map: RuleMap, *args: Any) -> None:
        super().__init__(url_map, *args)
        self.rule_map = url_map
        self.builders = url_map.builders
        #: The relative and the external URL of the app's root, with a trailing slash; None where
        #: Werkzeug builds every URL (subdomains, host matching, another default method).
        self.roots: tuple[str, str] | None = None
        if self.subdomain == "" and self.default_method == "GET" and not url_map.host_matching:
            # Werkzeug's build: the bound scheme, made http or https; none at all if unset.
            scheme = ("https:" if self.url_scheme in {"https", "wss"} else "http:") if self.url_scheme else ""
            external = f"{scheme}//{self.get_host('')}{self.script_name[:-1]}/"
            self.roots = (self.script_name.rstrip("/") + "/", external)

    def build_url(self, endpoint: Any, values: Mapping[str, Any], external: bool = False) -> str:
        """``build(endpoint, values, force_external=external)``, the same URL or error, at a fraction of its cost.

        Goes through the endpoint's compiled builder; Werkzeug's ``build`` answers whatever
        that builder leaves to it (missing values and their BuildError, converters refusing a
        value, rules with defaults, websockets, subdomains, ...).
        """
        roots = self.roots
        if roots is not None:
            builder = self.builders.get(endpoint) or self.rule_map.builder(endpoint)
            try:
                url = builder(values, roots[1] if external else roots[0], None)
            except ValidationError:  # Werkzeug tries the endpoint's next rule
                url = None
            if url is not None:
                return url
        return self.build(endpoint, values, force_external=external)


class RouteIndex:
    """Fixed paths, and the dynamic rules a path's fixed segments single out, of one version of a map.

    Built by the first request after a rule is added, in time linear in the number
    of rules (one pass; tests/test_route_index.py counts the calls), so a large
    app's first request stays short (a CGI process builds it on every request).
    """

    def __init__(self, url_map: RuleMap, explicit_head: dict[str, str]) -> None:
        self.version = url_map.version
        #: path -> method -> endpoint, for fixed paths
        self.static: dict[str, dict[str, str]] = {}
        #: number of parts -> the rules that may answer a path of that size, keyed by their fixed
        #: segments: (a getter of those segments' positions, fixed texts -> the one rule, taken
        #: apart on first use; None where several rules, or a redirect, may answer)
        self.shapes: dict[int, list[tuple[Callable[[list[str]], Any], dict[Any, _Shape | _Facts | None]]]] = {}
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
        # Rules that may answer a path of n parts: the plain dynamic rules of n parts, and every
        # rule of n + 1 parts ending in a slash (Werkzeug redirects to those first). A rule can
        # only answer a path whose segments equal its fixed segments, so each is keyed by those
        # (positions, texts): a path looks its own segments up once per set of positions, and the
        # index answers where exactly one rule may. One pass over the rules.
        tables: dict[int, dict[tuple[int, ...], dict[Any, _Shape | _Facts | None]]] = {}
        for fact in facts:
            parts = fact.parts
            if fact.dynamic and fact.plain:
                _key(tables, len(parts), fact, exact=True)
            if parts[-1].static and parts[-1].content == "" and len(parts) > 2:
                _key(tables, len(parts) - 1, fact, exact=False)
        for size, by_positions in tables.items():
            # Segment 0 is always "" (match() checks it): the key of rules with no fixed segment.
            self.shapes[size] = [(itemgetter(*positions), table) for positions, table in by_positions.items()]

    def match(self, path: str, method: str) -> tuple[Rule, dict[str, Any]] | None:
        """The rule and values Werkzeug would match for a path no fixed rule has, or None."""
        segments = path.split("/")
        if segments[0] or segments[1] in self.blocked:  # no leading slash (CONNECT host:port): Werkzeug decides
            return None
        tables = self.shapes.get(len(segments) + 1)  # Werkzeug's parts start with the domain
        if tables is None:
            return None
        entry: _Shape | _Facts | None = None
        for segments_of, table in tables:
            key = segments_of(segments)
            found = table.get(key, _NONE)
            if found is not _NONE:
                if found is None or entry is not None:
                    return None  # several rules, or a redirect, may answer: Werkzeug decides
                entry = found
                if type(entry) is _Facts:
                    entry = table[key] = _shape(entry)  # the same value whichever thread gets here first
        if entry is None:
            return None
        assert type(entry) is _Shape  # PERF: not isinstance, in every request
        if entry.methods is not None and method not in entry.methods:
            return None
        try:
            values = entry.values(segments)
        except (ValidationError, ValueError):  # ValueError: int() of over 4,300 digits; Werkzeug decides
            return None
        return None if values is None else (entry.rule, values)


#: Not in a table (None there means "several rules")
_NONE: Any = object()


def _key(
    tables: dict[int, dict[tuple[int, ...], dict[Any, _Shape | _Facts | None]]], size: int, fact: _Facts, exact: bool
) -> None:
    """Enter ``fact`` as a rule that may answer paths of ``size`` parts (itself, if ``exact``; else None)."""
    fixed = [(i, part.content) for i, part in enumerate(fact.parts[1:size]) if i and part.static]
    positions = tuple(i for i, _ in fixed) or (0,)
    texts = [text for _, text in fixed] or [""]
    key = texts[0] if len(texts) == 1 else tuple(texts)  # as itemgetter gives them
    table = tables.setdefault(size, {}).setdefault(positions, {})
    table[key] = fact if exact and key not in table else None


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
    """``fact``'s rule taken apart: a function, generated as the URL builders are, testing a path's
    segments (with the tests Werkzeug's own regexes make) and converting them."""
    env: dict[str, Any] = {}
    body: list[str] = []
    texts: list[str] = []  # the expressions of the converters' texts, in their order
    for index, part in enumerate(fact.parts[1:]):  # part n + 1 tests path segment n
        if part.static:
            continue
        segment = f"segments[{index}]"
        whole = _WHOLE_SEGMENT.get(part.content)
        if whole is None:
            pattern = env[f"p{index}"] = re.compile(part.content)
            body += [f"m{index} = p{index}.match({segment})", f"if m{index} is None:", "    return None"]
            texts += [f"m{index}.group({group!r})" for group in converter_groups(pattern.groupindex)]
            continue
        body += [f"t{index} = {segment}", f"if not t{index}{'.isdecimal()' if whole == _DIGITS else ''}:"]
        body.append("    return None")
        texts.append(f"t{index}")
    items = []
    for i, ((name, converter), text) in enumerate(zip(rule_converters(fact.rule).items(), texts)):  # noqa: B905
        env[f"n{i}"], to_python = name, _to_python(converter)
        if to_python is not None:
            env[f"c{i}"] = to_python
            text = f"c{i}({text})"
        items.append(f"n{i}: {text}")
    body.append("return {" + ", ".join(items) + "}")
    source = "def factory({}):\n    def values(segments):\n{}\n    return values".format(
        ", ".join(env), "\n".join("        " + line for line in body)
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<microweb matcher {fact.rule.rule!r}>", "exec"), namespace)  # noqa: S102 - generated names only
    methods = fact.rule.methods
    return _Shape(fact.rule, None if methods is None else frozenset(methods), namespace["factory"](**env))


def _to_python(converter: BaseConverter) -> Callable[[str], Any] | None:
    """What converts a path's text for ``converter``: None for the text itself, ``int`` for a plain
    ``<int:...>`` (what its to_python does then), else its to_python."""
    kind = type(converter)
    if kind.to_python is BaseConverter.to_python:
        return None
    if kind is not IntegerConverter or not isinstance(converter, IntegerConverter):  # isinstance: for mypy
        return converter.to_python
    plain = not converter.fixed_digits and converter.min is None and converter.max is None
    return int if plain and converter.num_convert is int else converter.to_python


# ---------------------------------------------------------------- URL builders

#: What Werkzeug leaves unquoted in a rule's fixed text and in a value (``BaseConverter.to_url``)
_PATH_SAFE = "!$&'()*+,/:;=@"
#: ... and in the query string Werkzeug makes of the other values (``quote_plus`` with these)
_QUERY_SAFE = "!$'()*,/:;?@"
#: The quoted text of recent string values (e.g. the same slug or file name on every page),
#: so that each is quoted once; bounded, as the values may come from clients.
_PATH_TEXTS: dict[str, str] = {}
_QUERY_TEXTS: dict[str, str] = {}
_TEXTS_KEPT = 1024


def _path_text(converter: BaseConverter, value: str) -> str:
    """``converter.to_url(value)``, remembered (only for converters with ``BaseConverter.to_url``)."""
    text = converter.to_url(value)
    if len(_PATH_TEXTS) >= _TEXTS_KEPT:
        _PATH_TEXTS.clear()
    _PATH_TEXTS[value] = text
    return text


def _query_text(value: Any) -> str:
    """A query key or value as Werkzeug's builder quotes it (``urlencode`` with ``quote_plus``)."""
    if type(value) is not str:
        return quote_plus(value if isinstance(value, bytes) else str(value), _QUERY_SAFE)
    text = quote_plus(value, _QUERY_SAFE)
    if len(_QUERY_TEXTS) >= _TEXTS_KEPT:
        _QUERY_TEXTS.clear()
    _QUERY_TEXTS[value] = text
    return text


#: ``microweb.url_for``'s own keywords: its fast path passes them on in the values, so that a call
#: without them pays no test for them; a builder called without the external root leaves them to Werkzeug.
_NOT_QUERY = frozenset({"_external", "_anchor"})
#: A builder's key texts: its rules' names map to "" (not in the query); bounded, as keys may come from clients.
_KEYS_KEPT = 256


def _key_text(keys: dict[str, str], names: frozenset[str], key: Any) -> str | None:
    """The text of ``key`` in a query (``key=``), "" for a rule's own name, None for a key in _NOT_QUERY."""
    if key in _NOT_QUERY:
        return None
    text = "" if key in names else _query_text(key) + "="
    if type(key) is str:
        if len(keys) >= _KEYS_KEPT:
            keys.clear()
        keys[key] = text
    return text


def _multi_pairs(key_text: str, key: Any, value: Any) -> list[str]:
    """The pairs of a value neither str nor int (lists, bytes, floats...), as Werkzeug's iter_multi_items makes them."""
    return [key_text + _query_text(item) for _, item in iter_multi_items({key: value}) if item is not None]


#: A builder's query string (``q``) of the values that are not its rule's, as Werkzeug makes it, and
#: url_for's ``_external`` (the root) and ``_anchor``; or ``return None`` where the slow path decides.
#: Source lines, as the builders are generated: a function of its own cost a URL with a query a
#: tenth more. ``keys`` holds the builder's recent keys' texts (``key=``); a str subclass equal to
#: one of them would take its text, where Werkzeug quotes ``str(key)``: hence the test of the type.
_QUERY_SOURCE = """\
pairs = []
anchor = None
for key, value in values.items():
    k = keys.get(key) if type(key) is str else None
    if k is None:
        k = key_text(keys, names, key)
        if k is None:  # _external or _anchor
            if external is None:
                return None
            if key == "_anchor":
                anchor = value
            elif value:
                root = external
            continue
    if type(value) is str:
        if k:
            pairs.append(k + (query_texts.get(value) or query_text(value)))
    elif type(value) is int:  # digits and "-" need no quoting
        if k:
            pairs.append(f"{k}{value}")
    elif value is not None and k:
        pairs += multi_pairs(k, key, value)
q = "?" + "&".join(pairs) if pairs else \"\"
""".splitlines()


def _no_builder(values: Mapping[str, Any], root: str, external: str | None) -> None:
    """The builder of an endpoint Werkzeug builds itself."""
    return None


def _compile_endpoint(url_map: Map, endpoint: Any) -> Builder:
    """The builder of ``endpoint``: its rules tried in the order of Werkzeug's ``build``, or _no_builder."""
    if url_map.host_matching or url_map.default_subdomain or url_map.sort_parameters:
        return _no_builder
    try:
        rules = list(url_map.iter_rules(endpoint))  # sorted as Werkzeug builds them
    except KeyError:
        return _no_builder  # an unknown endpoint: Werkzeug's BuildError
    # Werkzeug tries the rules that allow the default method (GET) first, then the others.
    for_get = [rule for rule in rules if rule.methods is None or "GET" in rule.methods]
    ordered = for_get + [rule for rule in rules if rule not in for_get]
    builders = [_compile_rule(rule) for rule in ordered]
    if not builders or None in builders:
        return _no_builder
    if len(builders) == 1:
        return builders[0]  # type: ignore[return-value]  # None is not in builders
    return _chain([builder for builder in builders if builder is not None])


def _chain(builders: list[Builder]) -> Builder:
    def build(values: Mapping[str, Any], root: str, external: str | None) -> str | None:
        for builder in builders:
            url = builder(values, root, external)
            if url is not None:
                return url
        return None

    return build


def _compile_rule(rule: Rule) -> Builder | None:
    """A function building ``rule``'s URL as Werkzeug's builder does; None for what it leaves to Werkzeug.

    Generated Python, as Werkzeug compiles its own builders: the names in the source are
    generated ones; the rule's texts, argument names and converters are passed in as values.
    """
    if rule.defaults or rule.websocket:
        return None
    trace = rule_trace(rule)
    split = trace.index((False, "|"))
    if any(variable or text for variable, text in trace[:split]):
        return None  # a subdomain or host of its own
    converters = rule_converters(rule)
    names = list(converters)
    if _NOT_QUERY.intersection(names):
        return None  # microweb.url_for's keywords, which the builder leaves to the slow path, as variables
    keys: dict[str, str] = {}
    env: dict[str, Any] = {"names": frozenset(names), "keys": keys, "key_text": _key_text, "multi_pairs": _multi_pairs}
    env.update(query_texts=_QUERY_TEXTS, query_text=_query_text, texts=_PATH_TEXTS, path_text=_path_text)
    body = []
    if names:  # a value missing or None: Werkzeug's BuildError (names are \w+: repr() makes each a literal)
        body += ["try:", *(f"    v{i} = values[{name!r}]" for i, name in enumerate(names)), "except KeyError:"]
        missing = " or ".join(f"v{i} is None" for i in range(len(names)))
        body += ["    return None", f"if {missing}:", "    return None"]
    pieces: list[tuple[bool, str]] = []  # (variable, fixed text or the name of its value's text)
    conversions: list[str] = []
    for variable, text in trace[split + 1 :]:
        if not variable:
            text = quote(text, safe=_PATH_SAFE)  # as Werkzeug quotes a rule's fixed text
            if pieces and not pieces[-1][0]:
                pieces[-1] = (False, pieces[-1][1] + text)
            else:
                pieces.append((False, text))
            continue
        i, converter = names.index(text), converters[text]
        out = f"s{len(pieces)}"
        env[f"k{len(pieces)}"] = converter
        conversions += _conversion(out, f"v{i}", f"k{len(pieces)}", converter)
        pieces.append((True, out))
    # Werkzeug strips the path's leading slashes (a value may start with some); the fixed
    # text at the start usually holds them all.
    pieces[0] = (False, pieces[0][1].lstrip("/"))
    strip = not pieces[0][1] and len(pieces) > 1
    # Fixed text is quoted, so it has no braces; repr() makes it a literal.
    template = "".join("{" + text + "}" if variable else text for variable, text in pieces)
    path = f"(root + f{template!r}.lstrip('/'))" if strip else f"f{'{root}' + template!r}"
    # No query: the path alone. Else the query first, as in Werkzeug's builder (its errors come
    # before a converter's), then the path.
    body += [f"if len(values) == {len(names)}:", *("    " + line for line in conversions), f"    return {path}"]
    body += [*_QUERY_SOURCE, *conversions]
    body.append(f"url = {path} + q" if strip else f"url = f{'{root}' + template + '{q}'!r}")
    body.append("return f'{url}#{anchor}' if anchor else url")
    source = "def factory({}):\n    def build(values, root, external):\n{}\n    return build".format(
        ", ".join(env), "\n".join("        " + line for line in body)
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<microweb builder {rule.rule!r}>", "exec"), namespace)  # noqa: S102 - generated names only
    return namespace["factory"](**env)  # type: ignore[no-any-return]


def _conversion(out: str, value: str, converter_name: str, converter: BaseConverter) -> list[str]:
    """Source lines setting ``out`` to ``converter.to_url(value)``, or to an int that the f-string formats as it."""
    if type(converter) is IntegerConverter and not converter.fixed_digits:
        return [f"{out} = {value} if type({value}) is int else {converter_name}.to_url({value})"]
    if type(converter).to_url is BaseConverter.to_url:  # quote(str(value)): ints need none, strings once
        return [
            f"if type({value}) is str:",
            f"    {out} = texts.get({value}) or path_text({converter_name}, {value})",
            f"elif type({value}) is int:",
            f"    {out} = {value}",
            "else:",
            f"    {out} = {converter_name}.to_url({value})",
        ]
    return [f"{out} = {converter_name}.to_url({value})"]
