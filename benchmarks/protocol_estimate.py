"""Wall-clock estimate of one seed of the paper's few-shot protocol from measured per-step times.

Reads the JSON of ``bench_search.py`` (which must include the run at the protocol's batch size and class count)
and of ``bench_eval.py``, and multiplies: search = SEARCH_EPOCHS x steps per epoch x fused search step, train =
TRAIN_EPOCHS x steps per epoch x fixed-layout train step, test = test images / evaluation throughput (done twice:
the supernet after the search, the trained model after training). Steps per epoch = shots x classes // batch (the
last incomplete batch is dropped). Data loading is not included: with DATALOADER.NUM_WORKERS workers it usually
runs alongside the GPU.

    python benchmarks/protocol_estimate.py --search search.json --eval eval.json [--classes 100 --shots 16]
"""
import argparse
import datetime
import json


def hms(seconds):
    return str(datetime.timedelta(seconds=round(seconds)))


def estimate(search, evaluation, shots=16, classes=100, batch=4, search_epochs=80, train_epochs=40,
             test_images=2465):
    """Rows (what, count, per-unit time, total seconds) of the estimate."""
    run = next((r for r in search["runs"] if r["batch"] == batch and r["classes"] == classes
                and r.get("max_length", 6) == 6), None)
    if run is None:
        raise SystemExit(f"{search.get('path', 'the search JSON')} has no run at batch {batch} with {classes} "
                         "classes; run bench_search.py with those values in --batch and --classes")
    ev = next((r for r in evaluation["runs"] if r["classes"] == classes), None)
    if ev is None:
        raise SystemExit(f"the eval JSON has no run with {classes} classes; run bench_eval.py --classes {classes}")
    steps = shots * classes // batch
    res = run["results"]
    rows = [("search (fused supernet)", f"{search_epochs} epochs x {steps} steps", res["fused"]["ms"] / 1000,
             search_epochs * steps * res["fused"]["ms"] / 1000)]
    if "recompute" in res and not res["recompute"].get("oom"):
        rows.append(("  (search with recomputed scores)", f"{search_epochs} epochs x {steps} steps",
                     res["recompute"]["ms"] / 1000, search_epochs * steps * res["recompute"]["ms"] / 1000))
    if "naive" in res and not res["naive"].get("oom"):
        rows.append(("  (search with the naive formula)", f"{search_epochs} epochs x {steps} steps",
                     res["naive"]["ms"] / 1000, search_epochs * steps * res["naive"]["ms"] / 1000))
    rows.append(("train (fixed layout)", f"{train_epochs} epochs x {steps} steps", res["fixed"]["ms"] / 1000,
                 train_epochs * steps * res["fixed"]["ms"] / 1000))
    rows.append(("test (supernet + trained model)", f"2 x {test_images} images", 1 / ev["once_images_per_s"],
                 2 * test_images / ev["once_images_per_s"]))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--search", required=True, help="bench_search.py --json output")
    p.add_argument("--eval", required=True, help="bench_eval.py --json output")
    p.add_argument("--shots", type=int, default=16)
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--search-epochs", type=int, default=80)
    p.add_argument("--train-epochs", type=int, default=40)
    p.add_argument("--test-images", type=int, default=2465, help="default: Caltech101's test split")
    args = p.parse_args(argv)
    with open(args.search) as f:
        search = {**json.load(f), "path": args.search}
    with open(args.eval) as f:
        evaluation = json.load(f)
    rows = estimate(search, evaluation, args.shots, args.classes, args.batch, args.search_epochs, args.train_epochs,
                    args.test_images)
    print(f"Protocol estimate on {search.get('device_name', search['device'])}: {args.shots} shots x "
          f"{args.classes} classes, batch {args.batch}, one seed (data loading not included)")
    print("| stage | count | per unit | total |\n|---|---|---|---|")
    for what, count, unit, total in rows:
        print(f"| {what} | {count} | {unit * 1000:.1f} ms | {hms(total)} |")
    total = sum(t for what, _, _, t in rows if not what.startswith("  "))
    print(f"| **one seed, search + train + test** | | | **{hms(total)}** |")
    print(f"Three seeds: {hms(3 * total)}")


if __name__ == "__main__":
    main()
