"""Parsing of user inputs shared by the verbs: seed ranges, prompt lists, output names."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pipelines.errors import InvalidInputError


def parse_seeds(spec: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7] (order kept, duplicates dropped)."""
    seeds: list[int] = []
    for item in spec.split(","):
        item = item.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", item)
        if not match:
            raise ValueError(f"seed list {spec!r}: {item!r} is not N or N-M (non-negative integers)")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first:
            raise ValueError(f"seed list {spec!r}: range {item!r} runs backwards")
        seeds.extend(s for s in range(first, last + 1) if s not in seeds)
    return seeds


def read_prompts_file(path: str | Path) -> list[str]:
    """Prompts from a .txt file (one per line, blank lines and '#' comments skipped), a .jsonl file (objects
    with a "prompt" field, or JSON strings), or stdin when `path` is '-'."""
    if str(path) == "-":
        lines = sys.stdin.read().splitlines()
        name = "<stdin>"
        is_jsonl = False
    else:
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(f"{path}: prompts file not found")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as error:
            raise InvalidInputError(f"{path}: not UTF-8 text ({error.reason})") from error
        name = str(path)
        is_jsonl = path.suffix.lower() == ".jsonl"
    prompts = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or (not is_jsonl and line.startswith("#")):
            continue
        if is_jsonl:
            prompts.append(_jsonl_prompt(line, name, number))
        else:
            prompts.append(line)
    if not prompts:
        raise InvalidInputError(f"{name}: no prompts found")
    return prompts


def _jsonl_prompt(line: str, name: str, number: int) -> str:
    """One prompt from a JSON Lines row: a string or an object with a non-empty "prompt" string."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{name} line {number}: not valid JSON ({error.msg})") from error
    if isinstance(value, dict):
        value = value.get("prompt")
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(
            f'{name} line {number}: expected a string or an object with a "prompt" string'
        )
    return value.strip()


def slugify(text: str, max_length: int = 48) -> str:
    """A file-system-safe name for a prompt: 'A woman, red hair' -> 'a-woman-red-hair'."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "prompt"
