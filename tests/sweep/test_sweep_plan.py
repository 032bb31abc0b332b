"""Planning a sweep: jobs, dependencies and folders come from the protocol planner (dpl.protocol.plan_seed)."""
import pytest

from dpl.errors import ConfigError
from dpl.sweep.plan import Settings, expand


def settings(tmp_path, **kw):
    return Settings(data=str(tmp_path / "data"), output=str(tmp_path / "out"), backbone="tiny-random", **kw)


def test_fewshot_jobs_share_the_search_and_depend_on_it(tmp_path):
    jobs = expand("fewshot", ["demo"], [2], [1, 2], ["DPL", "MaPLe", "CoOp"], settings(tmp_path))
    by_step = {}
    for job in jobs:
        by_step.setdefault(job.step, []).append(job)
    assert len(by_step["search"]) == 2  # one per seed, shared by DPL and MaPLe
    assert len(by_step["train"]) == 6
    for job in by_step["train"]:
        if job.trainer == "CoOp":
            assert job.deps == []  # CoOp's published design needs no search
        else:
            assert job.deps == [f"{tmp_path}/out/demo/DPLSearch/search_tiny_random_2shots/seed{job.seed}"]
    order = [j.key for j in jobs]
    assert all(order.index(d) < order.index(j.key) for j in jobs for d in j.deps)


def test_base2new_and_xd_have_test_jobs(tmp_path):
    b2n = expand("base2new", ["demo"], [2], [1], ["DPL"], settings(tmp_path))
    assert [j.step for j in b2n] == ["search", "train", "test"] and b2n[2].deps == [b2n[1].key]
    xd = expand("xd", ["demo", "caltech101"], [2], [1], ["DPL"], settings(tmp_path, xd_source="demo"))
    assert [j.step for j in xd] == ["search", "train", "test", "test"]  # one source run, one test per target
    assert {j.dataset for j in xd if j.step == "test"} == {"demo", "caltech101"}


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(ConfigError, match="no dataset config"):
        expand("fewshot", ["nope"], [2], [1], ["DPL"], settings(tmp_path))
    with pytest.raises(ConfigError, match="KEY VALUE"):
        expand("fewshot", ["demo"], [2], [1], ["DPL"], settings(tmp_path, opts=("OPTIM.LR",)))


def test_layout_reaches_every_planned_job(tmp_path):
    """--layout of the sweep (Settings.layout): a spec skips the search and is each train job's TRAINER.LAYOUT, none
    gives no layout, searched chains the seed's own search."""
    def layout_arg(job):
        return job.argv[job.argv.index("TRAINER.LAYOUT") + 1] if "TRAINER.LAYOUT" in job.argv else None

    spec = expand("fewshot", ["demo"], [2], [1, 2], ["IVLP"], settings(tmp_path, layout="uniform:2:3"))
    assert [j.step for j in spec] == ["train", "train"]
    assert all(layout_arg(j) == "uniform:2:3" and j.run_dir.split("/")[-2].endswith("_uniform-2-3") for j in spec)
    none = expand("fewshot", ["demo"], [2], [1], ["IVLP"], settings(tmp_path, layout="none"))
    assert [j.step for j in none] == ["train"] and layout_arg(none[0]) is None
    assert none[0].run_dir.split("/")[-2].endswith("_nolayout")
    searched = expand("fewshot", ["demo"], [2], [1, 2], ["IVLP"], settings(tmp_path, layout="searched"))
    for job in (j for j in searched if j.step == "train"):
        assert layout_arg(job) == f"{job.deps[0]}/layout.json" and job.deps[0].endswith(f"seed{job.seed}")
