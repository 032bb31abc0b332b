"""Stand-in for PYTHON in the script tests: records every train.py call and writes what a finished run
leaves (log.txt + results.json, or layout.json for DPLSearch) without training anything.

Env: FAKE_PY_LOG (JSON lines of calls), FAKE_FAIL_TRAINER (a trainer name that exits 1 without results).
``parse_test_res.py`` calls run the real script; ``-c`` / ``-m`` calls succeed and are recorded, except
``-m dpl.runs.run_identity check``, answered with dpl.runs.run_identity's exit codes by a stand-in rule: the fake
fingerprint is the train.py argument list with its per-seed parts (the seed, seed<S> folders) in the seed's key, as
the real one keeps them apart so that parse_test_res averages the seeds of one configuration (the real fingerprint
is tested in tests/e2e and tests/safety)."""
import json
import os
import re
import runpy
import sys


def record(kind, argv):
    with open(os.environ["FAKE_PY_LOG"], "a") as f:
        f.write(json.dumps({"kind": kind, "argv": argv, "cwd": os.getcwd()}) + "\n")


def flag(argv, name, default=None):
    return argv[argv.index(name) + 1] if name in argv else default


def marker(argv):
    return os.path.join(flag(argv, "--output-dir"), "layout.json" if flag(argv, "--trainer") == "DPLSearch"
                        else "results.json")


def fake_fingerprint(argv):
    seed = int(flag(argv, "--seed", "1"))
    rest = [a for i, a in enumerate(argv) if a != "--seed" and (i == 0 or argv[i - 1] != "--seed")]
    return {"config.SEED": seed, "argv": [re.sub(r"seed\d+", "seed<S>", a) for a in rest]}


def fake_check(argv):
    """0: finished with these arguments; 1: not finished; 2: another run's outputs (as dpl.runs.run_identity)."""
    path = marker(argv)
    if not os.path.isfile(path):
        sys.exit(1)
    with open(path) as f:
        recorded = json.load(f).get("fingerprint")
    if recorded != fake_fingerprint(argv):
        sys.stderr.write(f"Error: {os.path.dirname(path)} holds a finished run of another configuration\n")
        sys.exit(2)
    sys.exit(0)


def fake_train(argv):
    record("train", argv)
    fingerprint = fake_fingerprint(argv)
    out, trainer, seed = flag(argv, "--output-dir"), flag(argv, "--trainer"), int(flag(argv, "--seed", "1"))
    os.makedirs(out, exist_ok=True)
    if trainer == os.environ.get("FAKE_FAIL_TRAINER"):
        sys.exit(1)
    if trainer == "DPLSearch":
        # seeds agree on every layer but the first vision layer
        layout = {"backbone": "tiny-random", "max_length": 6, "vision": [seed, 0, 2], "text": [1, 0, 3],
                  "confidence": {"vision": [0.5] * 3, "text": [0.5] * 3}, "source": out, "fingerprint": fingerprint}
        with open(os.path.join(out, "layout.json"), "w") as f:
            json.dump(layout, f)
        return
    acc = 50.0 + seed
    with open(os.path.join(out, "log.txt"), "w") as f:
        f.write("Finish training\n=> result\n* total: 100\n* correct: %d\n* accuracy: %.1f%%\n" % (acc, acc))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"accuracy": acc, "seed": seed, "trainer": trainer, "fingerprint": fingerprint}, f)


def main():
    argv = sys.argv[1:]
    if argv[:2] == ["-m", "torch.distributed.run"]:  # torchrun: record how it was launched, then fake train.py
        script = next(i for i, a in enumerate(argv) if a.endswith("train.py"))
        record("torchrun", argv[:script])
        fake_train(argv[script + 1:])
        return
    if argv and argv[0] in ("-c", "-m"):
        record(argv[0], argv)
        if argv[:3] == ["-m", "dpl.runs.run_identity", "check"]:
            fake_check(argv[3:])
        return
    script = argv[0]
    if script.endswith("parse_test_res.py"):
        sys.argv = argv
        runpy.run_path(script, run_name="__main__")
    elif script.endswith("train.py"):
        fake_train(argv[1:])
    else:
        sys.exit(f"fake_python: unexpected call {argv}")


main()
