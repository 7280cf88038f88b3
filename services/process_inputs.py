"""Process inputs: checked against the declared JSON Schema, errors said in one line.

pygeoapi 0.21 passes execution inputs to a process unchecked; the platform validates them
with ``jsonschema`` before anything runs, so a wrong type, a missing required input or an
unknown layer name is a 400 naming the input, never a half-run query or a 500. The message
is built from the first relevant schema error and never echoes a long value back.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import validator_for

MAX_VALUE_TEXT = 60
MAX_MESSAGE = 400


def validator(schema: dict[str, Any]):
    """A validator for ``schema`` (its ``$schema`` draft, else 2020-12); a schema that is
    not valid JSON Schema raises here, when the app starts, not at a request."""
    cls = validator_for(schema, default=Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_VALUE_TEXT else text[:MAX_VALUE_TEXT - 1] + "…"


def _where(err: ValidationError) -> str:
    path = list(err.absolute_path)
    if not path:
        return "inputs"
    inner = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[1:])
    return f"input {path[0]!r}" + (f" at {inner.lstrip('.')}" if inner else "")


def _required_only(branches: Any) -> list[str] | None:
    """The input names of anyOf/oneOf branches that each only require inputs, else None."""
    names: list[str] = []
    for b in branches if isinstance(branches, list) else []:
        if not isinstance(b, dict) or set(b) != {"required"}:
            return None
        names += b["required"]
    return names or None


def describe(err: ValidationError) -> str:
    """One line naming the input and what is wrong with it."""
    where, kind, inst, val = _where(err), err.validator, err.instance, err.validator_value
    if kind == "required" and isinstance(inst, dict):
        missing = [k for k in val if k not in inst]
        what = "required input" if where == "inputs" else f"{where}: missing required property"
        msg = f"missing {what} {', '.join(map(repr, missing))}" if where == "inputs" else \
            f"{what} {', '.join(map(repr, missing))}"
    elif kind == "additionalProperties" and isinstance(inst, dict):
        known = list(err.schema.get("properties", {}))
        extra = [k for k in inst if k not in known]
        noun = "input" if where == "inputs" else f"property of {where}"
        msg = (f"unknown {noun}{'s' if len(extra) > 1 else ''} "
               f"{', '.join(map(repr, extra))}; known: {', '.join(known)}")
    elif kind in ("anyOf", "oneOf") and _required_only(val):
        msg = (f"give {'one' if kind == 'oneOf' else 'at least one'} of the inputs "
               f"{', '.join(map(repr, _required_only(val)))}")
    elif kind == "type":
        types = val if isinstance(val, list) else [val]
        msg = f"{where}: {_short(inst)} is not of type {' or '.join(types)}"
    elif kind == "enum":
        msg = f"{where}: {_short(inst)} is not one of {', '.join(map(str, val))}"
    elif kind == "const":
        msg = f"{where}: {_short(inst)} must be {_short(val)}"
    elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
              "exclusiveMaximum": "<"}[kind]
        msg = f"{where}: {_short(inst)} must be {op} {val}"
    elif kind in ("minItems", "maxItems"):
        n = len(inst) if isinstance(inst, list) else "?"
        msg = f"{where}: {n} items, {'at least' if kind == 'minItems' else 'at most'} {val}"
    elif kind in ("minLength", "maxLength"):
        msg = (f"{where}: {_short(inst)} is {'shorter' if kind == 'minLength' else 'longer'}"
               f" than {val} characters")
    else:
        msg = f"{where}: {err.message}"
    return msg if len(msg) <= MAX_MESSAGE else msg[:MAX_MESSAGE - 1] + "…"


def first_error(v, inputs: Any) -> str | None:
    """The message of the most relevant schema error of ``inputs``, None when they are valid.

    An anyOf/oneOf of "give this input or that one" is reported as such (jsonschema's own
    choice would name only one of them as missing)."""
    errors = list(v.iter_errors(inputs))
    if not errors:
        return None
    either = [e for e in errors
              if e.validator in ("anyOf", "oneOf") and _required_only(e.validator_value)]
    rest = [e for e in errors if not any(e is x for x in either)]
    return describe(best_match(rest) if rest else either[0])
