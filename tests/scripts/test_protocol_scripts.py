"""The protocol scripts with a fake PYTHON (tests/scripts/fake_python.py) that records each train.py call and
writes what a finished run leaves: the order of steps, run folders, skipping finished steps, TRAINER / LAYOUT
handling, base-to-new and cross-dataset wiring. No training happens here (tests/e2e runs the real thing)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "dpl"
FAKE = Path(__file__).resolve().parent / "fake_python.py"

CONFIGS = {
    "datasets/demo.yaml": "DATASET:\n  NAME: Demo\n",
    "datasets/other.yaml": "DATASET:\n  NAME: Other\n",
    "trainers/DPL/search.yaml": "OPTIM:\n  MAX_EPOCH: 80\n",
    "trainers/DPL/vit_b16_ep40.yaml": "OPTIM:\n  NAME: sgd\n  MAX_EPOCH: 40\n",
    "trainers/CoOp/vit_b16_ep50.yaml": "OPTIM:\n  MAX_EPOCH: 50\n",
    "trainers/IVLP/vit_b16_c2_ep5_batch4_2+2ctx.yaml": "OPTIM:\n  MAX_EPOCH: 5\n",
    "trainers/ZeroshotCLIP/vit_b16.yaml": "MODEL:\n  BACKBONE:\n    NAME: ViT-B/16\n",
}


@pytest.fixture
def env(tmp_path):
    for rel, text in CONFIGS.items():
        (tmp_path / "configs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "configs" / rel).write_text(text)
    return {"PYTHON": f"{sys.executable} {FAKE}", "FAKE_PY_LOG": str(tmp_path / "calls.jsonl"),
            "CONFIG_ROOT": str(tmp_path / "configs"), "OUTPUT": str(tmp_path / "out"), "DATA": str(tmp_path / "data"),
            "SEEDS": "1 2", "BACKBONE": "tiny-random", "OPTS": "OPTIM.MAX_EPOCH 2 DATALOADER.NUM_WORKERS 0"}


def run(script, *args, env, cwd=None, check=True, **extra):
    full = {k: v for k, v in os.environ.items() if k not in ("TRAINER", "CFG", "LAYOUT", "LOAD_EPOCH")}
    full.update(env)
    full.update(extra)
    proc = subprocess.run(["bash", str(SCRIPTS / script), *map(str, args)], cwd=cwd or "/", env=full,
                          capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def calls(env):
    path = Path(env["FAKE_PY_LOG"])
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if json.loads(line)["kind"] == "train"]


def arg(argv, name):
    return argv[argv.index(name) + 1]


def opts(argv):
    """The KEY VALUE pairs (after the last flag) as a list of pairs, in order."""
    i = 0
    while i < len(argv) and (argv[i].startswith("--") or i == 0):
        i += 1 if argv[i] == "--eval-only" else 2
    rest = argv[i:]
    return list(zip(rest[::2], rest[1::2]))


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.sh")))
def test_bash_syntax(script):
    proc = subprocess.run(["bash", "-n", str(SCRIPTS / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_main_searches_then_trains_each_seed_with_its_layout(env):
    proc = run("main.sh", "demo", 4, env=env)
    out = Path(env["OUTPUT"])
    seq = [(arg(c["argv"], "--trainer"), arg(c["argv"], "--seed")) for c in calls(env)]
    assert seq == [("DPLSearch", "1"), ("DPL", "1"), ("DPLSearch", "2"), ("DPL", "2")]
    search, train = calls(env)[0]["argv"], calls(env)[1]["argv"]
    assert calls(env)[0]["cwd"] == str(REPO)  # runs from the repo root whatever the caller's cwd
    assert arg(search, "--output-dir") == str(out / "demo/DPLSearch/search_tiny_random_4shots_ep2/seed1")
    assert arg(search, "--config-file").endswith("trainers/DPL/search.yaml")
    assert arg(train, "--output-dir") == str(out / "demo/DPL/tiny_random_ep2_4shots/seed1")
    assert arg(train, "--dataset-config-file").endswith("datasets/demo.yaml")
    assert arg(train, "--backbone") == "tiny-random" and arg(train, "--root") == env["DATA"]
    pairs = opts(train)
    assert ("DATASET.NUM_SHOTS", "4") in pairs
    assert ("TRAINER.LAYOUT", str(out / "demo/DPLSearch/search_tiny_random_4shots_ep2/seed1/layout.json")) in pairs
    assert pairs[-2:] == [("OPTIM.MAX_EPOCH", "2"), ("DATALOADER.NUM_WORKERS", "0")]  # user OPTS last
    # the parsed summary over seeds (51, 52) and the layout agreement (vision layer 0 differs)
    assert "* accuracy: 51.50% +- 0.69%" in proc.stdout
    assert "vision agreement: [0.50, 1.00, 1.00]" in proc.stdout


def test_rerun_skips_finished_steps_and_resumes_unfinished(env):
    run("main.sh", "demo", 4, env=env)
    n = len(calls(env))
    again = run("main.sh", "demo", 4, env=env)
    assert len(calls(env)) == n and again.stdout.count("skip: ") == 4
    # seed 2's training was interrupted (no results.json): only that run is started again
    (Path(env["OUTPUT"]) / "demo/DPL/tiny_random_ep2_4shots/seed2/results.json").unlink()
    run("main.sh", "demo", 4, env=env)
    new = calls(env)[n:]
    assert [(arg(c["argv"], "--trainer"), arg(c["argv"], "--seed")) for c in new] == [("DPL", "2")]


def test_coop_defaults_to_no_layout_and_no_search(env):
    run("main.sh", "demo", 4, env=env, TRAINER="CoOp")
    assert [(arg(c["argv"], "--trainer"), arg(c["argv"], "--seed")) for c in calls(env)] == [("CoOp", "1"), ("CoOp", "2")]
    assert "--eval-only" not in calls(env)[0]["argv"]
    assert arg(calls(env)[0]["argv"], "--output-dir").endswith("demo/CoOp/tiny_random_ep2_4shots_nolayout/seed1")
    assert "TRAINER.LAYOUT" not in calls(env)[0]["argv"]


def test_layout_spec_skips_search_and_tags_the_folder(env):
    run("main.sh", "demo", 4, env=env, TRAINER="IVLP", LAYOUT="uniform:2:9", SEEDS="1")
    (only,) = calls(env)
    assert arg(only["argv"], "--output-dir").endswith("demo/IVLP/tiny_random_c2_ep2_batch4_2+2ctx_4shots_uniform-2-9/seed1")
    assert ("TRAINER.LAYOUT", "uniform:2:9") in opts(only["argv"])


def test_layout_file_relative_to_caller(env, tmp_path):
    (tmp_path / "mine.json").write_text("{}")
    run("main.sh", "demo", 4, env=env, cwd=tmp_path, SEEDS="1", LAYOUT="mine.json")
    (only,) = calls(env)
    assert ("TRAINER.LAYOUT", str(tmp_path / "mine.json")) in opts(only["argv"])
    # the file's name and 8 hex of its content, not its whole path
    assert re.search(r"/tiny_random_ep2_4shots_mine-[0-9a-f]{8}/seed1$", arg(only["argv"], "--output-dir"))


def test_zeroshot_is_eval_only(env):
    run("main.sh", "demo", 4, env=env, TRAINER="ZeroshotCLIP", SEEDS="1")
    (only,) = calls(env)
    assert "--eval-only" in only["argv"] and "TRAINER.LAYOUT" not in only["argv"]
    assert arg(only["argv"], "--output-dir").endswith("demo/ZeroshotCLIP/tiny_random_4shots_ep2/seed1")


@pytest.mark.parametrize("extra, message", [
    ({"TRAINER": "DPL", "LAYOUT": "none"}, "needs a prompt layout"),
    ({"TRAINER": "NoSuch"}, "unknown TRAINER 'NoSuch'"),
    ({"LAYOUT": "nofile.json"}, "no such layout file"),
    ({"CFG": "nocfg"}, "trainers/DPL/nocfg.yaml"),
])
def test_bad_settings_fail_before_any_run(env, extra, message):
    proc = run("main.sh", "demo", 4, env=env, check=False, **extra)
    assert proc.returncode != 0 and message in proc.stderr
    assert calls(env) == []


def test_unknown_dataset_names_the_config(env):
    proc = run("main.sh", "nosuch", 4, env=env, check=False)
    assert proc.returncode == 2 and "datasets/nosuch.yaml" in proc.stderr and "demo" in proc.stderr
    typo = run("main.sh", "dem0", 4, env=env, check=False)
    assert typo.returncode == 2 and "Did you mean 'demo'?" in typo.stderr


def test_base2new_train_then_test(env):
    run("base2new_train.sh", "demo", 1, env=env, OPTS="")
    run("base2new_test.sh", "demo", 1, env=env, OPTS="")
    search, train, test = (c["argv"] for c in calls(env))
    out = Path(env["OUTPUT"]) / "base2new"
    assert arg(search, "--output-dir") == str(out / "search_base/demo/shots_16/DPLSearch/search_tiny_random/seed1")
    assert arg(train, "--output-dir") == str(out / "train_base/demo/shots_16/DPL/tiny_random_ep40/seed1")
    assert ("DATASET.SUBSAMPLE_CLASSES", "base") in opts(search) and ("DATASET.SUBSAMPLE_CLASSES", "base") in opts(train)
    assert arg(test, "--output-dir") == str(out / "test_new/demo/shots_16/DPL/tiny_random_ep40/seed1")
    assert "--eval-only" in test and arg(test, "--model-dir") == arg(train, "--output-dir")
    assert arg(test, "--load-epoch") == "40"  # OPTIM.MAX_EPOCH of the yaml
    assert ("DATASET.SUBSAMPLE_CLASSES", "new") in opts(test)
    assert ("TRAINER.LAYOUT", arg(search, "--output-dir") + "/layout.json") in opts(test)
    table = subprocess.run([sys.executable, str(REPO / "parse_test_res.py"), "--base2new", str(out)],
                           capture_output=True, text=True)
    assert "| demo" in table.stdout and "51.00" in table.stdout


def test_base2new_test_load_epoch_from_opts_or_env(env):
    run("base2new_train.sh", "demo", 1, env=env)
    run("base2new_test.sh", "demo", 1, env=env)
    assert arg(calls(env)[-1]["argv"], "--load-epoch") == "2"
    Path(arg(calls(env)[-1]["argv"], "--output-dir"), "results.json").unlink()
    run("base2new_test.sh", "demo", 1, env=env, LOAD_EPOCH="7")
    assert arg(calls(env)[-1]["argv"], "--load-epoch") == "7"


def test_base2new_test_without_training_says_what_to_run(env):
    proc = run("base2new_test.sh", "demo", 1, env=env, check=False)
    assert proc.returncode == 2 and "base2new_train.sh demo 1" in proc.stderr


def test_cross_dataset(env):
    run("xd_train.sh", 1, env=env, XD_SOURCE="demo")
    run("xd_test.sh", "other", 1, env=env, XD_SOURCE="demo")
    search, train, test = (c["argv"] for c in calls(env))
    out = Path(env["OUTPUT"]) / "xd"
    assert arg(train, "--output-dir") == str(out / "train/demo/shots_16/DPL/tiny_random_ep2/seed1")
    assert arg(test, "--output-dir") == str(out / "test/other/shots_16/DPL/tiny_random_ep2/seed1")
    assert arg(test, "--dataset-config-file").endswith("datasets/other.yaml")
    assert arg(test, "--model-dir") == arg(train, "--output-dir") and "DATASET.NUM_SHOTS" not in test
    table = subprocess.run([sys.executable, str(REPO / "parse_test_res.py"), "--table", str(out / "test")],
                           capture_output=True, text=True)
    assert "| other" in table.stdout and "| DPL" in table.stdout.splitlines()[0].replace("  ", "")


def test_compare_prints_one_table(env):
    proc = run("compare.sh", "CoOp DPL", "demo other", 4, env=env, SEEDS="1")
    lines = proc.stdout.split("Mean ± 95% CI")[1].splitlines()
    header = next(line for line in lines if "Dataset" in line)
    assert "CoOp" in header and "DPL" in header
    assert sum(1 for line in lines if line.startswith("| demo") or line.startswith("| other")) == 2
    assert any(line.startswith("| Average") for line in lines)


def test_compare_goes_on_after_a_failing_cell(env):
    proc = run("compare.sh", "CoOp DPL", "demo", 4, env=env, SEEDS="1", check=False, FAKE_FAIL_TRAINER="CoOp")
    assert proc.returncode == 1 and "CoOp/demo" in proc.stderr
    assert "| demo" in proc.stdout  # DPL's cell still in the table


def test_demo_runs_main_with_tiny_random_and_a_banner(env):
    env = {**env, "SEEDS": "1", "OPTS": "", "BACKBONE": "ViT-B/16"}
    proc = run("demo.sh", env=env)
    assert proc.stdout.count("SMOKE RUN (tiny-random, generated data): numbers mean nothing") == 2
    train = calls(env)[-1]["argv"]
    assert arg(train, "--backbone") == "tiny-random" and ("OPTIM.MAX_EPOCH", "2") in opts(train)
    assert arg(train, "--output-dir").endswith("demo/DPL/tiny_random_ep2_4shots/seed1")


@pytest.mark.parametrize("protocol", ["fewshot", "base2new", "xd"])
def test_every_default_config_exists_in_the_repo(protocol):
    from dpl.protocol import configs
    from dpl.protocol.settings import Settings

    settings = Settings(data="/d", output="/o")
    files = [configs.trainer_config(t, configs.default_cfg(t, protocol, settings), settings) for t in configs.TRAINERS]
    files.append(configs.search_config(settings))
    assert len(files) == 9 and all((REPO / f).is_file() for f in files)


def plan_of(*args, env):
    """step.sh --plan as [(step line, [train.py arguments])]."""
    steps = []
    for line in run("step.sh", "--plan", *args, env=env).stdout.splitlines():
        if line.startswith("step "):
            steps.append((line, []))
        else:
            assert line.startswith("arg ")
            steps[-1][1].append(line[4:])
    return steps


def test_step_script_runs_what_the_protocol_scripts_run_in_the_same_folders(env, tmp_path):
    """step.sh (the sweep's unit of work) plans and runs the same train.py calls, in the same folders, as main.sh
    and the base-to-new scripts; what one of them finished the other skips."""
    plan = plan_of("fewshot", "demo", 4, 1, env=env)
    out = Path(env["OUTPUT"])
    search = out / "demo/DPLSearch/search_tiny_random_4shots_ep2/seed1"
    train = out / "demo/DPL/tiny_random_ep2_4shots/seed1"
    assert [line for line, _ in plan] == [f"step 1 search todo {search}", f"step 1 train todo {train}"]
    run("step.sh", "search", "fewshot", "demo", 4, 1, env=env)
    run("step.sh", "train", "fewshot", "demo", 4, 1, env=env)
    by_step = calls(env)
    assert [c["argv"] for c in by_step] == [argv for _, argv in plan]  # the plan names the exact calls
    run("main.sh", "demo", 4, env=env, SEEDS="1")  # finds both steps finished
    assert calls(env) == by_step
    assert [line for line, _ in plan_of("fewshot", "demo", 4, 1, 2, env=env)][:3] == [
        f"step 1 search finished {search}", f"step 1 train finished {train}",
        f"step 2 search todo {search.parent / 'seed2'}"]
    # base-to-new: three steps, the same arguments as base2new_train.sh / base2new_test.sh
    b2n = plan_of("base2new", "demo", 2, 1, env=env)
    assert [line.split()[2] for line, _ in b2n] == ["search", "train", "test"]
    for step in ("search", "train", "test"):
        run("step.sh", step, "base2new", "demo", 2, 1, env=env)
    steps = calls(env)[len(by_step):]
    other = dict(env, OUTPUT=str(tmp_path / "other"), FAKE_PY_LOG=str(tmp_path / "other.jsonl"))
    run("base2new_train.sh", "demo", 1, env=other, SHOTS="2")
    run("base2new_test.sh", "demo", 1, env=other, SHOTS="2")
    scripts = calls(other)
    assert [c["argv"] for c in steps] == [[a.replace(other["OUTPUT"], env["OUTPUT"]) for a in c["argv"]]
                                           for c in scripts]


def test_step_script_refuses_what_it_cannot_run(env):
    proc = run("step.sh", "train", "fewshot", "demo", 4, 1, env=env, check=False)
    assert proc.returncode != 0 and "run the search step first" in proc.stderr
    proc = run("step.sh", "test", "fewshot", "demo", 4, 1, env=env, check=False)
    assert proc.returncode != 0 and "no separate test step" in proc.stderr
    proc = run("step.sh", "search", "fewshot", "demo", 4, 1, env=env, check=False, TRAINER="CoOp")
    assert proc.returncode != 0 and "needs no search" in proc.stderr


def test_sweep_script_runs_the_papers_three_protocols(env):
    run("sweep.sh", "slurm", "--trainers", "DPL", "MaPLe", env=env)
    sweeps = [json.loads(line)["argv"] for line in Path(env["FAKE_PY_LOG"]).read_text().splitlines()
              if json.loads(line)["kind"] == "-m"]
    assert [arg(a, "--protocol") for a in sweeps] == ["fewshot", "base2new", "xd"]
    for a in sweeps:
        assert a[:2] == ["-m", "dpl.sweep"] and arg(a, "--cluster") == "slurm" and a[-3:] == ["--trainers", "DPL", "MaPLe"]
        assert a[a.index("--opts") + 1:a.index("--opts") + 3] == ["OPTIM.MAX_EPOCH", "2"]
    fewshot, _, xd = sweeps
    assert fewshot[fewshot.index("--datasets") + 1:fewshot.index("--shots")][:2] == ["imagenet", "caltech101"]
    assert fewshot[fewshot.index("--shots") + 1:fewshot.index("--shots") + 6] == ["1", "2", "4", "8", "16"]
    targets = xd[xd.index("--datasets") + 1:xd.index("--shots")]
    assert "imagenet" not in targets and "imagenet_sketch" in targets and len(targets) == 14
    proc = run("sweep.sh", "cluster", env=env, check=False)
    assert proc.returncode != 0 and "local or slurm" in proc.stderr


@pytest.mark.parametrize("backbone, train_name, search_name", [
    ("ViT-B/16", "vit_b16_ep40_4shots", "search_4shots"),  # the shipped configs' backbone: the anchors' names
    ("tiny-random", "tiny_random_ep40_4shots", "search_tiny_random_4shots"),
    ("ViT-L/14@336px", "vit_l14_336px_ep40_4shots", "search_vit_l14_336px_4shots"),
])
def test_run_folders_are_named_by_the_backbone_used(env, backbone, train_name, search_name):
    run("main.sh", "demo", 4, env=env, SEEDS="1", BACKBONE=backbone, OPTS="")
    search, train = (arg(c["argv"], "--output-dir") for c in calls(env))
    assert search.endswith(f"demo/DPLSearch/{search_name}/seed1") and train.endswith(f"demo/DPL/{train_name}/seed1")


def test_rerun_with_other_opts_gets_its_own_folders_and_leaves_the_first_run_alone(env):
    run("main.sh", "demo", 4, env=env, SEEDS="1")
    n = len(calls(env))
    results = Path(env["OUTPUT"]) / "demo/DPLSearch/search_tiny_random_4shots_ep2/seed1/layout.json"
    before = results.read_bytes()
    run("main.sh", "demo", 4, env=env, SEEDS="1", OPTS=env["OPTS"] + " OPTIM.LR 0.5")
    new = [arg(c["argv"], "--output-dir") for c in calls(env)[n:]]
    assert [d.split("/demo/")[1] for d in new] == ["DPLSearch/search_tiny_random_4shots_lr0.5_ep2/seed1",
                                                   "DPL/tiny_random_ep2_4shots_lr0.5/seed1"]
    assert results.read_bytes() == before
    proc = run("main.sh", "demo", 4, env=env, SEEDS="1")  # the first settings again: found finished
    assert len(calls(env)) == n + 2 and "skip" in proc.stdout


def test_config_root_of_ones_own_falls_back_to_the_shipped_trainer_configs(env, tmp_path):
    mine = tmp_path / "my_configs"
    (mine / "datasets").mkdir(parents=True)
    (mine / "datasets" / "mine.yaml").write_text("DATASET:\n  NAME: CustomFolder\n")
    run("main.sh", "mine", 4, env=env, SEEDS="1", TRAINER="CoOp", CONFIG_ROOT=str(mine),
        OPTS="DATASET.FOLDER my_images")
    (only,) = calls(env)
    assert arg(only["argv"], "--dataset-config-file") == str(mine / "datasets" / "mine.yaml")
    assert arg(only["argv"], "--config-file") == "configs/trainers/CoOp/vit_b16_ep50.yaml"  # the shipped one
    assert ("DATASET.FOLDER", "my_images") in opts(only["argv"])


def test_nproc_runs_every_step_with_torchrun(env):
    run("main.sh", "demo", 4, env=env, SEEDS="1", NPROC="2")
    log = [json.loads(line) for line in Path(env["FAKE_PY_LOG"]).read_text().splitlines()]
    launches = [entry["argv"] for entry in log if entry["kind"] == "torchrun"]
    assert len(launches) == 2 and len(calls(env)) == 2  # the search and the training
    assert all(a[:2] == ["-m", "torch.distributed.run"] and "--nproc_per_node" in a and "2" in a for a in launches)
    proc = run("main.sh", "demo", 4, env=env, check=False, NPROC="two")
    assert proc.returncode != 0 and "NPROC must be a number" in proc.stderr
