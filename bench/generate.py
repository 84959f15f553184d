"""Benchmark `generate`: milliseconds per image (text -> final image) per preset and batch size, and
text -> mesh time, with peak memory. Each case runs in a fresh process so peak RSS is its own.

    .venv/bin/python bench/generate.py [--presets tiny,small,ffhq512] [--batches 1,8] [--threads 2]
        [--repeats 2] [--mesh-res 256] [--precision fp32|bf16] [--out bench/generate.json]

Prints one JSON object; writes it to --out when given.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time

from report import emit, machine


def _inputs(generator, batch: int):
    import torch

    from pipelines.generate import sample_z

    z = torch.cat([sample_z(seed, generator.config.mapping.z_dim) for seed in range(batch)])
    return z, generator.frontal_camera(batch)


def _time_images(preset: str, batch: int, repeats: int, threads: int, precision: str) -> dict:
    import torch

    from pipelines.core.encoders import load_encoder
    from pipelines.generate import RANDOM_TEXT_ENCODER, load_model

    torch.set_num_threads(threads)
    generator = load_model(f"random:{preset}", torch.device("cpu"))
    encoder = load_encoder(RANDOM_TEXT_ENCODER)
    z, camera = _inputs(generator, batch)
    prompts = ["a woman with red hair"] * batch
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")

    def run() -> None:
        with torch.no_grad(), autocast:
            text = encoder.encode_text(prompts).float()
            ws = generator.map(z, camera, text)
            generator.synthesis(ws, camera)["image"].float()

    run()  # warm-up: oneDNN primitive creation
    started = time.perf_counter()
    for _ in range(repeats):
        run()
    seconds = (time.perf_counter() - started) / repeats
    return {"preset": preset, "batch": batch, "ms_per_image": round(1000 * seconds / batch, 1)}


def _time_mesh(preset: str, resolution: int, threads: int) -> dict:
    import tempfile
    from pathlib import Path

    import torch

    from pipelines.core.encoders import load_encoder
    from pipelines.core.samples import SampleOutputs, write_mesh
    from pipelines.errors import TG3DFaceError
    from pipelines.generate import RANDOM_TEXT_ENCODER, load_model

    torch.set_num_threads(threads)
    generator = load_model(f"random:{preset}", torch.device("cpu"))
    encoder = load_encoder(RANDOM_TEXT_ENCODER)
    z, camera = _inputs(generator, 1)
    started = time.perf_counter()
    with torch.no_grad(), tempfile.TemporaryDirectory() as folder:
        text = encoder.encode_text(["a woman with red hair"]).float()
        planes = generator.triplanes(generator.map(z, camera, text))
        # a random network has no surface at EG3D's level; take its median density so the mesh is not empty
        raw, _ = generator.query(planes, torch.rand(1, 20000, 3) - 0.5)
        iso = float(torch.nn.functional.softplus(raw - 1).median())
        try:
            path = write_mesh(
                Path(folder),
                generator,
                planes,
                SampleOutputs(mesh="ply", mesh_resolution=resolution, iso=iso),
            )
            size = path.stat().st_size
        except TG3DFaceError:
            size = 0
    return {
        "preset": preset,
        "mesh_res": resolution,
        "s_text_to_mesh": round(time.perf_counter() - started, 2),
        "ply_bytes": size,
    }


def _child(task: tuple, queue) -> None:
    from pipelines.core.runtime import tune_allocator

    tune_allocator()  # as the tg3dface command does
    kind, *args = task
    result = _time_images(*args) if kind == "images" else _time_mesh(*args)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    queue.put(result)


def _run(task: tuple) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(task, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,small,ffhq512")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--mesh-res", type=int, default=256)
    parser.add_argument("--mesh-presets", default="tiny,ffhq512")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    images = [
        _run(("images", preset, int(batch), args.repeats, args.threads, args.precision))
        for preset in args.presets.split(",")
        for batch in args.batches.split(",")
    ]
    meshes = [
        _run(("mesh", preset, args.mesh_res, args.threads))
        for preset in args.mesh_presets.split(",")
        if preset
    ]
    report = {
        "benchmark": "generate",
        **machine(),
        "threads": args.threads,
        "precision": args.precision,
        "device": "cpu",
        "images": images,
        "meshes": meshes,
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
