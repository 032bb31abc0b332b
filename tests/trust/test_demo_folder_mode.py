"""The generated Demo folder gets the user's usual permissions (issue 17, weaker): it was created 0700 through its
temp folder, so other users of a shared machine could not read the dataset."""
import os
import stat

from datasets.demo import generate_demo


def test_generated_demo_folder_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        generate_demo(str(tmp_path / "demo"))
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "demo").st_mode)
    assert mode == 0o755, oct(mode)
