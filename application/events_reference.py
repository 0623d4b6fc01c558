"""The reference of every event type in docs/events.md, generated from the catalogue of CloudEvents types
and their data schemas (a test keeps the document equal to it)."""

from __future__ import annotations

from typing import Any

from infrastructure.cloudevents import catalogue

REFERENCE_MARK = "<!-- generated below by application.events_reference.events_reference(); do not edit by hand -->"


def events_reference() -> str:
    """The generated part of docs/events.md: every type, who may see it, and the fields of its `data`."""
    from infrastructure.cloudevents import data_schema
    from projections.feed import AUDIENCE_DOC

    cat = catalogue()
    lines = ["| type | version | visible to (besides the Office and auditors) |", "|---|---|---|"]
    lines += [f"| `{n}` | {cat.by_name[n].version} | {AUDIENCE_DOC.get(cat.by_name[n].kind, 'nobody else')} |"
              for n in cat.names()]
    shared: dict[str, Any] = {}
    for n in cat.names():
        schema = data_schema(cat.by_name[n])
        shared.update(schema.get("$defs", {}))
        lines += ["", f"### `{n}`", "", f"{schema['description']} `dataschema`: `{schema['$id']}`", ""]
        lines += _fields(schema)
    lines += ["", "## Shared structures", ""]
    for name in sorted(shared):
        d = shared[name]
        lines += [f"### {name}", ""]
        lines += _fields(d) if "properties" in d else [f"One of: {', '.join(f'`{v}`' for v in d.get('enum', []))}"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _fields(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", ()))
    rows = ["| field | type | required |", "|---|---|---|"]
    rows += [f"| `{k}` | {_type(v)} | {'yes' if k in required else 'no'} |"
             for k, v in schema.get("properties", {}).items()]
    return rows


def _type(s: dict[str, Any]) -> str:
    if "$ref" in s:
        return f"[{s['$ref'].rsplit('/', 1)[-1]}](#{s['$ref'].rsplit('/', 1)[-1].lower()})"
    if "anyOf" in s:
        return " or ".join(_type(x) for x in s["anyOf"])
    if s.get("type") == "array":
        return f"list of {_type(s.get('items', {}))}"
    if "title" in s and s.get("type") == "object":
        return str(s["title"])
    if "enum" in s:
        return " / ".join(f"`{v}`" for v in s["enum"])
    return str(s.get("type", "any")) + (f" ({s['format']})" if "format" in s else "")


def _write_reference(path: str = "docs/events.md") -> None:
    """Rewrites docs/events.md from its first marker on (anything after it, even stray text, is replaced)."""
    from pathlib import Path

    doc = Path(path)
    head = doc.read_text(encoding="utf-8").split(REFERENCE_MARK, 1)[0].rstrip("\n")
    doc.write_text(f"{head}\n\n{REFERENCE_MARK}\n\n{events_reference()}", encoding="utf-8")


if __name__ == "__main__":
    _write_reference()
