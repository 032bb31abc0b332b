"""Where the time of one fused DPL search step goes: torch.profiler's table of the operators with the most device
(or CPU) time, at ViT-B/16 shapes. For deciding what to optimise next; prints, asserts nothing.

    python benchmarks/profile_search.py --device cuda --batch 32 --classes 1000 [--variant fused|fixed|naive]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_search  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    p.add_argument("--small", action="store_true")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--variant", choices=bench_search.VARIANTS, default="fused")
    p.add_argument("--rows", type=int, default=25)
    args = p.parse_args(argv)
    bargs = bench_search.parse_args(["--device", args.device, *(["--small"] if args.small else [])])
    pc, _ = bench_search.build_model(bargs)
    emb, eot, batches = bench_search.build_inputs(pc, bargs, args.batch, args.classes)
    step = bench_search.make_step(args.variant, bargs, pc, emb, eot, batches)
    step()  # warm-up
    activities = [torch.profiler.ProfilerActivity.CPU]
    if args.device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
        torch.cuda.synchronize()
    with torch.profiler.profile(activities=activities) as prof:
        step()
        if args.device == "cuda":
            torch.cuda.synchronize()
    events = prof.key_averages()
    key = "self_device_time_total" if args.device == "cuda" else "self_cpu_time_total"
    try:
        table = events.table(sort_by=key, row_limit=args.rows, max_name_column_width=60)
    except (AttributeError, KeyError):  # older torch names the device column after CUDA
        table = events.table(sort_by="self_cuda_time_total", row_limit=args.rows, max_name_column_width=60)
    print(f"{args.variant} step, batch {args.batch}, {args.classes} classes, {args.device}")
    print(table)


if __name__ == "__main__":
    main()
