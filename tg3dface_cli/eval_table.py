"""The human table of `tg3dface eval`: one column per model, then the reference values (floor and ceiling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def metrics_table(reports: list[dict[str, Any]]):
    """A rich Table of metrics objects (DESIGN §3.5), one column per model."""
    from rich.table import Table

    table = Table(title="tg3dface eval", show_lines=False)
    table.add_column("metric")
    for report in reports:
        model = report["model"]
        table.add_column(model if model.startswith("random:") else Path(model).name, justify="right")
    table.add_column("ground truth", justify="right", style="dim")
    table.add_column("shuffled", justify="right", style="dim")
    rows: dict[str, list[str]] = {}
    references: dict[str, tuple[str, str]] = {}
    for column, report in enumerate(reports):
        for name, value, reference in _rows(report["results"]):
            rows.setdefault(name, ["" for _ in reports])[column] = value
            if reference is not None:
                references[name] = reference
    for name, values in rows.items():
        table.add_row(name, *values, *references.get(name, ("", "")))
    return table


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _rows(results: dict[str, Any]) -> list[tuple[str, str, tuple[str, str] | None]]:
    """(label, model value, (ground truth, shuffled) or None) per line of the table."""
    rows: list[tuple[str, str, tuple[str, str] | None]] = []
    if "fid" in results:
        fid = results["fid"]
        rows.append(
            (
                f"FID ({fid['num_generated']} vs {fid['num_real']}, {fid['resolution']} px)",
                _fmt(fid["value"], 2),
                None,
            )
        )
    if "kid" in results:
        kid = results["kid"]
        rows.append(("KID x 1000", f"{1000 * kid['mean']:.2f} ± {1000 * kid['std']:.2f}", None))
    if "clip" in results:
        clip, ref = results["clip"], results["clip"]["reference"]
        shuffled = _fmt(ref["shuffled"]["score"], 2) if ref["shuffled"] else "-"
        rows.append(("CLIP score", _fmt(clip["score"], 2), (_fmt(ref["ground_truth"]["score"], 2), shuffled)))
    if "mvic" in results:
        mvic, ref = results["mvic"], results["mvic"]["reference"]
        truth, shuffled = ref["ground_truth"] or {}, ref.get("shuffled") or {}
        rows.append(
            (
                f"MVIC ({mvic['identity_model']})",
                _fmt(mvic["mean"]),
                (_fmt(truth.get("mean")), _fmt(shuffled.get("mean"))),
            )
        )
        rows.append(("MVIC no-face rate", _fmt(mvic["no_face_rate"]), (_fmt(truth.get("no_face_rate")), "")))
    if "warp" in results:
        warp, truth = results["warp"], results["warp"]["reference"]["ground_truth"] or {}
        rows.append(("warp PSNR (dB)", _fmt(warp["psnr"], 2), (_fmt(truth.get("psnr"), 2), "")))
        rows.append(("warp L1", _fmt(warp["l1"], 4), (_fmt(truth.get("l1"), 4), "")))
        rows.append(("warp coverage", _fmt(warp["coverage"]), (_fmt(truth.get("coverage")), "")))
    if "attr" in results:
        for domain in ("in_domain", "out_of_domain"):
            if domain in results["attr"]:
                rows.extend(_attribute_rows(domain.replace("_", "-"), results["attr"][domain]))
    return rows


def _attribute_rows(label: str, scores: dict[str, Any]) -> list[tuple[str, str, tuple[str, str] | None]]:
    truth, shuffled = scores["reference"]["ground_truth"], scores["reference"]["shuffled"] or {}
    rows = [
        (
            f"attributes {label}",
            _fmt(scores["overall"]),
            (_fmt(truth["overall"]), _fmt(shuffled.get("overall"))),
        )
    ]
    for family, value in scores["families"].items():
        reference = (_fmt(truth["families"][family]), _fmt(shuffled.get("families", {}).get(family)))
        rows.append((f"  {family}", _fmt(value), reference))
    return rows
