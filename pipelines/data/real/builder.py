"""Run every source item through `process_item` (resumably, in worker processes) and assemble the folder.

Work happens in a folder beside the output, `.<out name>.work/`, that survives an interruption: each
finished item has `done/<stem>.json` (and its PNGs in `files/`). `--resume` skips those items; a fresh
run clears the folder first. Assembly then numbers the accepted faces in source order, so the result
does not depend on interruptions or on the number of workers, and links the files into the staged
dataset folder; the work folder is removed once the dataset is in place.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from pipelines.data.dataset import REJECTED_FILE, DatasetWriter, record_id
from pipelines.data.real.config import RealDataConfig
from pipelines.data.real.layouts import SourceItem, SourceListing
from pipelines.data.real.process import item_stem, process_item


def work_folder(out: Path) -> Path:
    """The resumable work folder of an output folder."""
    return out.parent / f".{out.name}.work"


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _run(args: tuple[SourceItem, RealDataConfig, str]) -> dict[str, Any]:
    return process_item(*args)


def _results(todo: list[SourceItem], config: RealDataConfig, work: Path) -> Iterator[dict[str, Any]]:
    jobs = [(item, config, str(work)) for item in todo]
    if config.workers == 1 or len(todo) < 2:
        yield from map(_run, jobs)
        return
    workers = min(config.workers, len(todo))
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
        yield from pool.map(_run, jobs)


def process_items(
    listing: SourceListing,
    config: RealDataConfig,
    work: Path,
    resume: bool,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Process every item not already done into `work`.

    Args:
        listing: the source's items.
        config: a validated configuration.
        work: the work folder (cleared first unless `resume`).
        resume: keep and skip items finished by an earlier, interrupted run.
        progress: called with 1 per finished item (and once with the count already done on resume).
    """
    if not resume and work.exists():
        shutil.rmtree(work)
    (work / "files").mkdir(parents=True, exist_ok=True)
    (work / "done").mkdir(parents=True, exist_ok=True)
    todo = [item for item in listing.items if not (work / "done" / f"{item_stem(item.key)}.json").is_file()]
    if progress is not None and len(todo) < len(listing.items):
        progress(len(listing.items) - len(todo))
    for _ in _results(todo, config, work):
        if progress is not None:
            progress(1)


def _link(source: Path, target: Path) -> None:
    """Hard-link (or copy, across file systems) a work file into the dataset folder."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def reason_summary(rejected: list[dict[str, str]]) -> dict[str, int]:
    """Count rejections by reason, details in parentheses dropped ("corrupt or truncated image")."""
    return dict(sorted(Counter(r["reason"].split(" (")[0] for r in rejected).items()))


def assemble(
    listing: SourceListing, config: RealDataConfig, work: Path, root: Path, writer: DatasetWriter
) -> dict:
    """Write the images, parsing maps, records and rejected.jsonl into the (staged) dataset folder.

    Returns:
        Manifest fields: rejection summary, parsing sources, detectors.
    """
    (root / "images").mkdir()
    (root / "parsing").mkdir()
    rejected = list(listing.rejected)
    parsing_sources, detectors = Counter(), Counter()
    count = 0
    for item in listing.items:
        result = json.loads((work / "done" / f"{item_stem(item.key)}.json").read_text(encoding="utf-8"))
        if result["status"] != "ok":
            rejected.append({"source": item.key, "reason": result["reason"]})
            continue
        parsing_sources[result["parsing_source"]] += 1
        detectors[result["detector"]] += 1
        for variant in result["variants"]:
            name = record_id(count)
            count += 1
            _link(work / "files" / variant["image"], root / "images" / f"{name}.png")
            _link(work / "files" / variant["parsing"], root / "parsing" / f"{name}.png")
            writer.add(
                {
                    "id": name,
                    "image": f"images/{name}.png",
                    "parsing": f"parsing/{name}.png",
                    "camera": variant["camera"],
                    "captions": result["captions"],
                    "parts": result["parts"],
                    "split": result["split"],
                    "source": item.key,
                    "mirror": variant["mirror"],
                    "landmarks": variant["landmarks"],
                    "pose": variant["pose"],
                    "detector": result["detector"],
                }
            )
    rejected.sort(key=lambda r: r["source"])
    if rejected:
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejected)
        (root / REJECTED_FILE).write_text(lines, encoding="utf-8")
    return {
        "source_images": len(listing.items) + len(listing.rejected),
        "rejected_reasons": reason_summary(rejected),
        "parsing_sources": dict(sorted(parsing_sources.items())),
        "detectors": dict(sorted(detectors.items())),
    }
