"""Planning a sweep: jobs, dependencies and folders come from the shell scripts (step.sh --plan)."""
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
