"""Run folders name the result-changing OPTS, so runs of other settings live side by side in one OUTPUT, and a
folder never states a value that OPTS overrode (issue 21, items 2 and 6). Planning only: no training runs here."""
import re

import pytest

from dpl.protocol import Settings, plan_seed
from dpl.protocol.steps import MAX_SUFFIX


def dirs(protocol="fewshot", opts=(), trainer="DPL", **kw):
    settings = Settings(data="/d", output="/o", backbone="tiny-random", opts=opts, **kw)
    return [s.run_dir for s in plan_seed(protocol, "demo", 4, 1, settings, trainer=trainer).steps]


def test_without_opts_the_folders_keep_their_names():
    assert dirs() == ["/o/demo/DPLSearch/search_tiny_random_4shots/seed1", "/o/demo/DPL/tiny_random_ep40_4shots/seed1"]
    assert dirs("base2new")[1] == "/o/base2new/train_base/demo/shots_4/DPL/tiny_random_ep40/seed1"


@pytest.mark.parametrize("protocol", ["fewshot", "base2new", "xd"])
def test_a_learning_rate_gets_its_own_search_train_and_test_folders(protocol):
    default, lr = dirs(protocol), dirs(protocol, ("OPTIM.LR", "0.01"))
    assert len(lr) == len(default) and not set(lr) & set(default)
    assert all("_lr0.01" in d for d in lr)


def test_the_suffix_reads_as_the_user_wrote_it():
    search, train = dirs(opts=("OPTIM.LR", "0.01"))
    assert search.endswith("/search_tiny_random_4shots_lr0.01/seed1")
    assert train.endswith("/tiny_random_ep40_4shots_lr0.01/seed1")


def test_an_overridden_epoch_count_renames_the_config_word_instead_of_stating_the_old_one():
    search, train = dirs(opts=("OPTIM.MAX_EPOCH", "2"))
    assert train.endswith("/tiny_random_ep2_4shots/seed1") and "ep40" not in train
    assert search.endswith("/search_tiny_random_4shots_ep2/seed1")  # its name states no epochs: a suffix
    (zeroshot,) = dirs(opts=("OPTIM.MAX_EPOCH", "2"), trainer="ZeroshotCLIP")
    assert zeroshot.endswith("/tiny_random_4shots_ep2/seed1")
    (ivlp,) = dirs(opts=("OPTIM.MAX_EPOCH", "3", "DATALOADER.TRAIN_X.BATCH_SIZE", "8"), trainer="IVLP", layout="zero")
    assert "/tiny_random_c2_ep3_batch8_2+2ctx_4shots_zero/" in ivlp


def test_pairs_in_another_order_or_spelling_find_the_same_folders():
    one = dirs(opts=("OPTIM.LR", "0.01", "OPTIM.WEIGHT_DECAY", "5e-4"))
    assert dirs(opts=("OPTIM.WEIGHT_DECAY", "0.0005", "OPTIM.LR", "0.010")) == one
    assert dirs(opts=("OPTIM.LR", "0.5", "OPTIM.LR", "0.01", "OPTIM.WEIGHT_DECAY", "0.0005")) == one  # last wins


@pytest.mark.parametrize("key, value", [("DATALOADER.NUM_WORKERS", "0"), ("TRAIN.PRINT_FREQ", "1"),
                                        ("TRAIN.CHECKPOINT_FREQ", "1"), ("VERBOSE", "False")])
def test_keys_that_change_no_result_add_no_suffix(key, value):
    assert dirs(opts=(key, value)) == dirs()
    assert dirs(opts=(key, value, "OPTIM.LR", "0.01")) == dirs(opts=("OPTIM.LR", "0.01"))


def test_a_long_suffix_becomes_a_short_hash_that_still_tells_settings_apart():
    many = ("OPTIM.LR", "0.00123", "OPTIM.WEIGHT_DECAY", "0.0001", "OPTIM.MOMENTUM", "0.85", "OPTIM.WARMUP_EPOCH", "2",
            "TRAINER.DPL.N_CTX", "8")
    other = many[:-1] + ("16",)
    names = [d.split("/")[-2] for d in dirs(opts=many) + dirs(opts=other)]
    assert all(re.fullmatch(r".*_4shots_opts-[0-9a-f]{12}", n) for n in names)
    assert len(set(names)) == 4 and all(len(n.split("_4shots")[1]) <= MAX_SUFFIX for n in names)


def test_keys_ending_alike_stay_apart():
    train = dirs(opts=("TRAINER.COOP.N_CTX", "4", "TRAINER.DPL.N_CTX", "8"))[1]
    assert "_nctx4" in train and "trainer-dpl-nctx8" in train


def test_a_layout_file_tags_the_folder_with_its_name_and_content_not_its_path(tmp_path):
    deep = tmp_path / ("a-very-long-folder-name-" * 6) / "my_layout.json"
    deep.parent.mkdir(parents=True)
    deep.write_text('{"vision": [1], "text": [1]}')
    (train,) = dirs(layout=str(deep))
    name = train.split("/")[-2]
    assert re.fullmatch(r"tiny_random_ep40_4shots_my_layout-[0-9a-f]{8}", name), name
    deep.write_text('{"vision": [2], "text": [1]}')  # another layout in the same file: another folder
    assert dirs(layout=str(deep)) != [train]


def test_a_sweep_plans_the_same_folders_for_each_opts_variant(tmp_path):
    from dpl.sweep.plan import Settings as SweepSettings
    from dpl.sweep.plan import expand, experiment_dirs

    found = []
    for opts in ((), ("OPTIM.LR", "0.01")):
        settings = SweepSettings(data=str(tmp_path / "d"), output=str(tmp_path / "o"), backbone="tiny-random",
                                 opts=opts)
        jobs = expand("fewshot", ["demo"], [4], [1], ["DPL"], settings)
        planned = [s.run_dir for s in plan_seed("fewshot", "demo", 4, 1, Settings(
            data=str(tmp_path / "d"), output=str(tmp_path / "o"), backbone="tiny-random", opts=opts)).steps]
        assert [j.run_dir for j in jobs] == planned
        found += experiment_dirs(jobs)
    assert [d.split("/")[-1] for d in found] == ["tiny_random_ep40_4shots", "tiny_random_ep40_4shots_lr0.01"]


def test_words_and_paths_read_as_words():
    train = dirs(opts=("OPTIM.LR_SCHEDULER", "cosine", "DATASET.FOLDER", "/data/mine/my_images/"))[1]
    assert train.endswith("/tiny_random_ep40_4shots_folder-my_images_lrscheduler-cosine/seed1")


def test_a_hashed_suffix_does_not_depend_on_how_a_number_is_spelled():
    many = ["OPTIM.LR", "0.00123", "OPTIM.WEIGHT_DECAY", "0.0001", "OPTIM.MOMENTUM", "0.85", "OPTIM.WARMUP_EPOCH", "2",
            "TRAINER.DPL.N_CTX", "8"]
    respelled = many[:3] + ["1e-4"] + many[4:]
    assert dirs(opts=tuple(many)) == dirs(opts=tuple(respelled))


def test_runs_of_these_opts_under_the_earlier_name_are_pointed_at_not_taken(tmp_path):
    """The demo's old folders (tiny_random_ep40_4shots holding 2-epoch runs) get a note; the default run beside an
    LR variant (another configuration) gets none."""
    import json

    def write(folder, fingerprint):
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({"fingerprint": fingerprint}))

    write(tmp_path / "demo/DPL/tiny_random_ep40_4shots/seed1", {"config.OPTIM.MAX_EPOCH": 2})
    settings = Settings(data="/d", output=str(tmp_path), backbone="tiny-random", opts=("OPTIM.MAX_EPOCH", "2"))
    plan = plan_seed("fewshot", "demo", 4, 1, settings)
    assert plan.step("train").run_dir.endswith("/tiny_random_ep2_4shots/seed1")
    assert f"{tmp_path}/demo/DPL/tiny_random_ep40_4shots holds runs of these settings" in plan.layout.note
    assert f"runs now go to {tmp_path}/demo/DPL/tiny_random_ep2_4shots" in plan.layout.note
    same = Settings(data="/d", output=str(tmp_path), backbone="tiny-random", opts=("OPTIM.MAX_EPOCH", "40"))
    assert plan_seed("fewshot", "demo", 4, 1, same).layout.note == ""  # same name: nothing earlier to point at
    other = Settings(data="/d", output=str(tmp_path), backbone="tiny-random", opts=("OPTIM.MAX_EPOCH", "3"))
    assert plan_seed("fewshot", "demo", 4, 1, other).layout.note == ""  # the old run is another configuration's
