"""Atomic writes leave files as a plain ``open`` would (the user's umask, not mkstemp's 0600), and the temp file of
a write killed before its rename is removed on the next run."""
import os
import stat
import time

import pytest

from dpl.engine.utils.io import atomic_open, atomic_torch_save, remove_stale_temps, write_json


@pytest.fixture
def umask():
    def set_mask(mask):
        old.append(os.umask(mask))
    old = []
    yield set_mask
    if old:
        os.umask(old[0])


@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mask):
    umask(mask)
    write_json({"a": 1}, tmp_path / "r.json")
    atomic_torch_save({"a": 1}, tmp_path / "c.pth")
    (tmp_path / "plain").write_text("x")  # what an ordinary open() gives
    expected = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert expected == 0o666 & ~mask
    for name in ("r.json", "c.pth"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name


def killed_write(path):
    """The on-disk state a SIGKILL between the temp file's write and its rename leaves: the temp file stays."""
    folder, base = os.path.dirname(path), os.path.basename(path)
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w") as f:
            f.write("half")
            f.flush()
            (temp,) = [n for n in os.listdir(folder) if n.startswith("." + base + ".") and n.endswith(".tmp")]
            os.link(os.path.join(folder, temp), str(path) + ".survivor")
            raise RuntimeError("killed")
    os.replace(str(path) + ".survivor", os.path.join(folder, temp))  # as if the cleanup never ran
    return os.path.join(folder, temp)


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path):
    (tmp_path / "sub").mkdir()
    stale = [killed_write(tmp_path / "results.json"), killed_write(tmp_path / "sub" / "model.pth.tar-1")]
    keep = [tmp_path / "results.json.tmp", tmp_path / ".hidden", tmp_path / "sub" / ".config.tmp", tmp_path / "a.txt"]
    for path in keep:
        path.write_text("user file")
    (tmp_path / "sub" / "deeper").mkdir()
    deep = killed_write(tmp_path / "sub" / "deeper" / "x.json")  # below a run folder's own sub-folders: not swept
    removed = remove_stale_temps(tmp_path)
    assert sorted(removed) == sorted(stale) and os.path.exists(deep)
    assert not any(os.path.exists(p) for p in stale)
    assert all(p.exists() for p in keep)


def test_recent_temp_files_survive_when_an_age_is_asked(tmp_path):
    # a shared folder (few-shot caches): another process may be writing right now
    stale = killed_write(tmp_path / "shot_4-seed_1.json")
    assert remove_stale_temps(tmp_path, min_age_s=3600) == []
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert remove_stale_temps(tmp_path, min_age_s=3600) == [stale]
