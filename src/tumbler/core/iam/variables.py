"""Policy variables: ``${aws:username}``, ``${aws:PrincipalTag/team, 'default'}``, and the escapes ``${*}``, ``${?}``,
``${$}``.

A policy text is compiled once into a ``Template`` of parts. ``Pattern`` text is the policy's own text, where the
operator's wildcards (``*``, ``?``) apply; ``Literal`` text stands for itself (an escape, or a resolved variable's
value); ``Variable`` is resolved per request. Variables exist only in Version 2012-10-17 policies: older policies
keep ``${...}`` as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

ESCAPES = {"*": "*", "?": "?", "$": "$"}
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_VARIABLE = re.compile(r"\s*([^,\s][^,]*?)\s*(?:,\s*'([^']*)'\s*)?")

Lookup = Callable[[str], str | None]


@dataclass(frozen=True)
class Pattern:
    text: str


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class Variable:
    key: str  # lower-cased, as request keys are
    default: str | None


Resolved = tuple[Pattern | Literal, ...]


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[Pattern | Literal | Variable, ...]

    @property
    def has_variables(self) -> bool:
        return any(isinstance(part, Variable) for part in self.parts)

    def resolve(self, lookup: Lookup) -> Resolved | None:
        """The template with every variable replaced; None when a variable has no value and no default."""
        resolved: list[Pattern | Literal] = []
        for part in self.parts:
            if isinstance(part, Variable):
                value = lookup(part.key)
                if value is None:
                    value = part.default
                if value is None:
                    return None
                resolved.append(Literal(value))
            else:
                resolved.append(part)
        return tuple(resolved)

    def text(self, lookup: Lookup) -> str | None:
        """The resolved template as one plain string (for operators without wildcards)."""
        resolved = self.resolve(lookup)
        return None if resolved is None else "".join(part.text for part in resolved)


def compile_template(source: str, *, variables: bool) -> Template:
    if not variables or "${" not in source:
        return Template(source, (Pattern(source),))
    parts: list[Pattern | Literal | Variable] = []
    position = 0
    for found in _PLACEHOLDER.finditer(source):
        part = _placeholder(found.group(1))
        if part is None:
            continue  # not a variable: the text stays as it is
        if found.start() > position:
            parts.append(Pattern(source[position : found.start()]))
        parts.append(part)
        position = found.end()
    if position < len(source):
        parts.append(Pattern(source[position:]))
    return Template(source, tuple(parts))


def _placeholder(inner: str) -> Literal | Variable | None:
    if inner in ESCAPES:
        return Literal(ESCAPES[inner])
    found = _VARIABLE.fullmatch(inner)
    if found is None:
        return None
    return Variable(found.group(1).lower(), found.group(2))
