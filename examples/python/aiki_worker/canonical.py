"""Canonical JSON, its hash, and the replay addresses of task calls and child starts.

The definition is the contract's ("Addresses" in proto/aiki/v1/history.proto): RFC 8785 (JCS)
text of the value, whose numbers are IEEE doubles as google.protobuf.Value holds them. An absent
value (a call without input) is the text ``undefined``. The test vectors beside the contracts
(proto/aiki/v1/testdata/canonical-json-vectors.json) pin every rule below.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

#: A call without input: not JSON, and distinct from ``None`` (JSON null).
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class NoCanonicalForm(ValueError):
    """The value has no canonical JSON (NaN, an infinity, a lone surrogate, a non-JSON type)."""


def canonical_json(value: Any = ABSENT) -> str:
    """The canonical JSON text of a JSON value (dict, list, str, int, float, bool, None) or ABSENT."""
    if value is ABSENT:
        return "undefined"
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def canonical_hash(value: Any = ABSENT) -> str:
    """Lower-case hex sha256 of the UTF-8 bytes of the value's canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def task_address(name: str, value: Any = ABSENT) -> str:
    """StartTaskRequest.address of a call of task ``name`` with input ``value``."""
    return f"{name}:{canonical_hash(value)}"


def child_run_key(reference_id: str, value: Any = ABSENT) -> str:
    """StartChildRunRequest.key: the reference id when there is one, else "input:" + hash."""
    return reference_id if reference_id else f"input:{canonical_hash(value)}"


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (int, float)):
        # Value numbers are doubles: an int is the double it rounds to, like any other language's.
        out.append(format_number(float(value)))
    elif isinstance(value, str):
        out.append(_quote(value))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise NoCanonicalForm(f"object keys must be strings, got {key!r}")
        # UTF-16 code unit order (JCS), not code point order: they differ for keys with
        # characters above U+FFFF against characters U+E000..U+FFFF.
        keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        out.append("{")
        for i, key in enumerate(keys):
            if i:
                out.append(",")
            out.append(_quote(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    else:
        raise NoCanonicalForm(f"{type(value).__name__} is not a JSON value")


def _quote(s: str) -> str:
    parts = ['"']
    for ch in s:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            raise NoCanonicalForm("a string with a lone surrogate has no canonical JSON")
        if ch in _SHORT_ESCAPES:
            parts.append(_SHORT_ESCAPES[ch])
        elif code < 0x20:
            parts.append(f"\\u{code:04x}")
        else:
            parts.append(ch)
    parts.append('"')
    return "".join(parts)


def format_number(x: float) -> str:
    """A double as ECMAScript's Number::toString writes it (RFC 8785 section 3.2.2.3)."""
    if math.isnan(x) or math.isinf(x):
        raise NoCanonicalForm(f"{x} has no canonical JSON: only finite numbers do")
    if x == 0:
        return "0"  # -0 too
    if x < 0:
        return "-" + format_number(-x)
    # repr gives the shortest digits that read back as the same double, as ECMAScript does.
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    # The value is 0.<digits> x 10^point before normalizing the digits.
    point = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    head = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(e)}"
