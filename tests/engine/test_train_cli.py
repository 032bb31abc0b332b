"""train.py on the toy setup: as a subprocess (log header, results.json), then in-process for eval-only
and for a user error (one ``Error:`` paragraph on stderr, exit status 2, no traceback)."""
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOY_OPTS = ["DATASET.NAME", "ToyEngineTrainerData", "INPUT.SIZE", "(8, 8)", "INPUT.TRANSFORMS", "('normalize',)",
            "DATALOADER.NUM_WORKERS", "0", "DATALOADER.TRAIN_X.BATCH_SIZE", "4", "OPTIM.NAME", "sgd",
            "OPTIM.LR", "0.002", "OPTIM.MAX_EPOCH", "2", "USE_CUDA", "False"]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One subprocess run of train.py (through toy_train_main.py) with seed 1."""
    tmp = tmp_path_factory.mktemp("cli")
    out = tmp / "out"
    proc = subprocess.run([sys.executable, str(HERE / "toy_train_main.py"), "--root", str(tmp / "data"),
                           "--output-dir", str(out), "--seed", "1", "--trainer", "ToyLinearTrainer", *TOY_OPTS],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, out


@pytest.fixture
def train_module(stub_trainers, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", types.ModuleType("datasets"))
    spec = importlib.util.spec_from_file_location("train_under_test", HERE.parents[1] / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_subprocess_run_writes_log_and_results(cli_run):
    _, out = cli_run
    log = (out / "log.txt").read_text()
    head = log[:5000]
    assert "train.py" in head and "** Config **" in head and "OPTIM:" in head and "PyTorch" in head
    assert "Project git commit:" in log and "Setting fixed seed: 1" in log
    assert "Finish training" in log.splitlines()
    results = json.loads((out / "results.json").read_text())
    assert results["seed"] == 1 and results["trainer"] == "ToyLinearTrainer" and results["eval_only"] is False
    assert results["dataset"] == "ToyEngineTrainerData" and results["shots"] == -1
    assert {"accuracy", "error_rate", "macro_f1", "backbone", "subsample_classes", "layout", "elapsed"} <= set(results)
    assert f"* accuracy: {results['accuracy']:.1f}%" in log


def test_eval_only_reproduces_accuracy(cli_run, train_module, capsys):
    tmp, out = cli_run
    ev = tmp / "eval"
    train_module.cli(["--root", str(tmp / "data"), "--output-dir", str(ev), "--eval-only", "--model-dir", str(out),
                      "--load-epoch", "2", "--trainer", "ToyLinearTrainer", *TOY_OPTS])
    got = json.loads((ev / "results.json").read_text())
    expected = json.loads((out / "results.json").read_text())
    assert got["eval_only"] is True and got["accuracy"] == expected["accuracy"]


def test_user_error_is_one_paragraph_exit_2(train_module, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        train_module.cli(["--output-dir", str(tmp_path / "out"), "--trainer", "ToyLinearTrainer", *TOY_OPTS,
                          "OPTIM.LRR", "0.1"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1 and "OPTIM.LRR" in err and "Did you mean OPTIM.LR " in err
    with pytest.raises(SystemExit) as late:  # an error after the logger started goes into log.txt too
        train_module.cli(["--output-dir", str(tmp_path / "out2"), "--trainer", "NoSuchTrainer", *TOY_OPTS])
    assert late.value.code == 2
    assert "Error: Unknown trainer name" in (tmp_path / "out2" / "log.txt").read_text()
    assert not hasattr(sys.stdout, "console")  # the tee was removed


@pytest.mark.parametrize("where", ["a_file", "a_file/under_it"])
def test_an_output_dir_that_cannot_be_a_folder_is_one_error_naming_it(train_module, tmp_path, capsys, where):
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(SystemExit) as e:
        train_module.cli(["--output-dir", str(tmp_path / where), "--trainer", "ToyLinearTrainer", *TOY_OPTS])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and str(tmp_path / where) in err and "Traceback" not in err


def test_flags_after_the_key_value_pairs_are_taken_as_flags(train_module, tmp_path):
    args = train_module.parse_args(["--trainer", "ToyLinearTrainer", "OPTIM.MAX_EPOCH", "2", "--resume", "somewhere",
                                    "--eval-only", "--load-epoch", "3", "OPTIM.LR", "0.1"])
    assert args.resume == "somewhere" and args.eval_only and args.load_epoch == 3
    assert args.opts == ["OPTIM.MAX_EPOCH", "2", "OPTIM.LR", "0.1"]
    with pytest.raises(SystemExit) as e:
        train_module.parse_args(["OPTIM.MAX_EPOCH", "2", "--no-such-flag"])
    assert e.value.code == 2  # argparse's usage error


def test_unknown_flag_after_the_pairs_says_where_flags_go(train_module, capsys):
    with pytest.raises(SystemExit) as e:
        train_module.parse_args(["OPTIM.MAX_EPOCH", "2", "--no-such-flag"])
    assert e.value.code == 2  # argparse's usage error
    assert "put flags before the KEY VALUE pairs" in capsys.readouterr().err


def test_eval_only_without_model_dir_warns_that_untrained_prompts_are_evaluated(cli_run, train_module, capsys):
    tmp, _ = cli_run
    train_module.cli(["--root", str(tmp / "data"), "--output-dir", str(tmp / "untrained"), "--eval-only",
                      "--trainer", "ToyLinearTrainer", *TOY_OPTS])
    err = capsys.readouterr().err
    assert "WARNING" in err and "--model-dir" in err and "untrained" in err
    assert "untrained" in (tmp / "untrained" / "log.txt").read_text()


def test_the_config_goes_to_log_txt_and_the_terminal_gets_a_pointer(cli_run, train_module, capsys):
    tmp, out = cli_run
    ev = tmp / "eval_config"
    stale = ev / ".results.json.k1ll3d00.tmp"  # left by a write killed in an earlier run
    ev.mkdir()
    stale.write_text("half")
    train_module.cli(["--root", str(tmp / "data"), "--output-dir", str(ev), "--eval-only", "--model-dir", str(out),
                      "--trainer", "ToyLinearTrainer", *TOY_OPTS])
    terminal = capsys.readouterr().out
    log = (ev / "log.txt").read_text()
    assert "OPTIM:" in log and "** Config **" in log
    assert "OPTIM:" not in terminal and f"Config: in full in {ev / 'log.txt'}" in terminal
    assert not stale.exists()


def test_results_record_the_real_number_of_training_images_per_class(cli_run):
    _, out = cli_run
    assert json.loads((out / "results.json").read_text())["train_per_class"] == {"min": 4, "max": 4}
