#!/usr/bin/python3
"""Times the PyTorch reference's forward pass on one clip of a config, random weights.

  bench_torch.py --config tools/configs/timesformer-base-k400.json [--threads N]
                 [--iterations N] [--warmup N] [--mode MODE] [--json]

Modes: f32 (float32), mkldnn (torch.utils.mkldnn: the linear layers on oneDNN), bf16 (CPU
autocast to bfloat16), int8 (torch.ao.quantization.quantize_dynamic of the nn.Linear layers).
torch.no_grad(), torch.set_num_threads(N) (default: all cores); the clip is the
config's size (num_frames x num_channels x image_size x image_size). Prints the median
milliseconds per clip, or one JSON object with --json. Run with /usr/bin/python3 (Debian's
python3-torch; it needs libopenblas0-pthread to be fast).
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time


def time_runs(run, iterations, warmup):
    """Milliseconds of each timed call of run()."""
    times = []
    for i in range(warmup + iterations):
        start = time.perf_counter()
        run()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="config.json of the model to time")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--iterations", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="weights seed")
    parser.add_argument("--mode", choices=["f32", "mkldnn", "bf16", "int8"], default="f32",
                        help="PyTorch's execution mode (default f32)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.threads < 1 or args.iterations < 1 or args.warmup < 0:
        parser.error("--threads and --iterations must be at least 1, --warmup at least 0")

    # torch.set_num_threads() does not reach OpenBLAS's own thread pool: set it before loading.
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch
    import timesformer_reference as ref
    torch.set_num_threads(args.threads)
    config = ref.read_config(args.config)
    model = ref.random_model(config, args.seed, dtype=torch.float32).eval()
    shape = (1, config["num_frames"], config["num_channels"], config["image_size"], config["image_size"])
    clip = torch.randn(shape, generator=torch.Generator().manual_seed(args.seed))
    run = lambda: ref.forward(model, clip)
    if args.mode == "mkldnn":
        from torch.utils import mkldnn
        model = mkldnn.to_mkldnn(model)
    elif args.mode == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    elif args.mode == "bf16":
        def run():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return ref.forward(model, clip)
    with torch.no_grad():
        times = time_runs(run, args.iterations, args.warmup)
    result = {
        "config": args.config,
        "clip": list(shape[1:]),
        "mode": args.mode,
        "threads": args.threads,
        "iterations": args.iterations,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "parameters": sum(p.numel() for p in model.parameters()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_version": torch.__version__,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.config}: clip {'x'.join(map(str, shape[1:]))}, {args.threads} threads, "
              f"torch {torch.__version__}: median {result['median_ms']:.1f} ms "
              f"(min {result['min_ms']:.1f} ms, {args.iterations} runs)")


if __name__ == "__main__":
    main()
