"""Masks personal data (NIK, names) before anything leaves the process as telemetry or logs.

UU 27/2022: a NIK or a name never appears in the clear in logs, span attributes or metrics.
"""

import re

_NIK_LIKE = re.compile(r"(?<!\d)(\d{4})\d{10}(\d{2})(?!\d)")
_QUERY_VALUE = re.compile(r"(^|[?&])([^=&?#]+)=([^&#]*)")
# Query parameters that never carry personal data; all others are blanked.
_SAFE_PARAMS = frozenset({"region", "limit", "offset", "program", "period", "stage", "format", "status"})
_URL_KEYS = frozenset({"http.target", "http.url", "url.full", "url.query", "url.path"})
_MESSAGE_KEYS = frozenset({"exception.message", "exception.stacktrace"})


def mask_digits(text: str) -> str:
    """Replaces any 16-digit run (a NIK or KK number) with its first 4 and last 2 digits."""
    return _NIK_LIKE.sub(lambda m: f"{m.group(1)}**********{m.group(2)}", text)


def redact_query(text: str) -> str:
    def blank(m: re.Match[str]) -> str:
        value = m.group(3) if m.group(2) in _SAFE_PARAMS else "REDACTED"
        return f"{m.group(1)}{m.group(2)}={value}"

    return _QUERY_VALUE.sub(blank, text)


def redact_attribute(key: str, value: object) -> object:
    if isinstance(value, str):
        if key in _URL_KEYS:
            if key == "url.query" or "?" in value:
                value = redact_query(value)
            return mask_digits(value)
        if key in _MESSAGE_KEYS:
            # Validation errors quote their input, which may be a name: keep only the shape.
            return "(redacted: may contain personal data)"
        return mask_digits(value)
    if isinstance(value, (list, tuple)):
        return type(value)(redact_attribute(key, v) for v in value)
    return value
