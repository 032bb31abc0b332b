"""A text input that is neither a known choice nor a template names the config key the user set: the train stage's
TRAINER.DPL.CTX_INIT, the search's TRAINER.DPL.SEARCH_CTX_INIT."""
import pytest

from dpl_harness import build

from dpl.errors import ConfigError


@pytest.mark.parametrize("trainer,key", [("DPL", "TRAINER.DPL.CTX_INIT"),
                                         ("DPLSearch", "TRAINER.DPL.SEARCH_CTX_INIT")])
def test_a_bad_text_input_names_its_key(trainer, key, data_root, tmp_path):
    opts = [key, "no placeholder"] + (["TRAINER.LAYOUT", "uniform:1"] if trainer == "DPL" else [])
    with pytest.raises(ConfigError) as error:
        build(data_root, tmp_path, trainer, opts)
    message = str(error.value)
    assert message.startswith(f"{key} is 'no placeholder'")
