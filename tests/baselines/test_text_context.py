"""The shared text input (dpl/method/text.py, text_context.py; a mutation run found these paths untested): a prompt
longer than OpenAI CLIP's context is an error naming the longest prompt, and ``TextContext`` (CoCoOp, IVLP, MaPLe,
PromptSRC) learns the first k words of ``CTX_INIT`` with the rest frozen, or a random N(0, 0.02) context."""
import clip
import pytest
import torch

from dpl.errors import ConfigError
from dpl.method.text import prompt_inputs
from dpl.method.text_context import TextContext

CLASSES = ["dog", "sea_lion"]


def test_a_prompt_longer_than_the_context_names_the_longest(tiny_clip):
    long, longer = "a " * 76, "a " * 80  # 76 words + start + end: one token over the 77
    with pytest.raises(ConfigError) as e:
        prompt_inputs(tiny_clip, ["a dog.", long.strip(), longer.strip()])
    message = str(e.value)
    assert message.startswith("A prompt is too long for the text encoder's context of 77 tokens (longest: "
                              f"{longer.strip()[:120]!r}): ")
    assert "too long for context length" in message  # OpenAI's tokenizer's own words follow
    fits = prompt_inputs(tiny_clip, [("a " * 75).strip()])[2]
    assert fits.shape == (1, 77) and int(fits[0].argmax()) == 76


def test_ctx_init_longer_than_the_context_leaves_the_rest_as_frozen_words(tiny_clip, capsys):
    context = TextContext(tiny_clip, CLASSES, 2, "a_photo_of_a", node="TRAINER.X")
    tokens = clip.tokenize(["a photo of a dog.", "a photo of a sea lion."])
    with torch.no_grad():
        assert torch.equal(context.embeddings(), tiny_clip.model.token_embedding(tokens))
        assert torch.equal(context.ctx, tiny_clip.model.token_embedding(tokens[0, 1:3]))
    assert torch.equal(context.eot_index.cpu(), tokens.argmax(-1)) and not context.random_init
    assert capsys.readouterr().out == 'Text context: "a photo of a" (first 2 tokens learned), 2 tokens\n'


def test_ctx_init_as_long_as_the_context_is_all_learned(tiny_clip, capsys):
    context = TextContext(tiny_clip, CLASSES, 4, "a photo of a")
    assert not context.random_init and context.ctx.shape == (4, tiny_clip.text_width)
    assert capsys.readouterr().out == 'Text context: "a photo of a" (first 4 tokens learned), 4 tokens\n'


@pytest.mark.parametrize("ctx_init", ["", "a photo"], ids=["no CTX_INIT", "CTX_INIT shorter"])
def test_otherwise_the_context_is_random(tiny_clip, ctx_init, capsys):
    torch.manual_seed(0)
    context = TextContext(tiny_clip, CLASSES, 16, ctx_init)
    assert context.random_init and context.ctx.shape == (16, tiny_clip.text_width)
    assert abs(context.ctx.std().item() - 0.02) < 0.003
    tokens = clip.tokenize([f"{' '.join(['X'] * 16)} dog.", f"{' '.join(['X'] * 16)} sea lion."])
    with torch.no_grad():
        assert torch.equal(context.embeddings()[:, 17:], tiny_clip.model.token_embedding(tokens)[:, 17:])
    out = capsys.readouterr().out
    shorter = "CTX_INIT 'a photo' has 2 tokens, fewer than the 16 context tokens: random initialisation\n"
    assert out == (shorter if ctx_init else "") + f'Text context: "{" ".join(["X"] * 16)}" (random), 16 tokens\n'


def test_neither_length_nor_words_names_the_node(tiny_clip):
    with pytest.raises(ConfigError, match=r"^TRAINER.COCOOP: give N_CTX or CTX_INIT \(both are empty\)$"):
        TextContext(tiny_clip, CLASSES, None, "", node="TRAINER.COCOOP")
    assert TextContext(tiny_clip, CLASSES, None, "a photo of a").n_ctx == 4  # the words decide


def test_only_the_context_is_saved(tiny_clip):
    assert list(TextContext(tiny_clip, CLASSES, 2, "a photo of a").state_dict()) == ["ctx"]


def test_one_token_over_is_refused_too(tiny_clip):
    """78 tokens still fit the tokenizer's 78-token call; the end-of-text token in position 77 shows the cut."""
    with pytest.raises(ConfigError, match=r"^A prompt is too long for the text encoder's context of 77 tokens "
                                          r"\(longest: 'a a [a ]*'\)$"):
        prompt_inputs(tiny_clip, [("a " * 76).strip()])
    fitting_but_wordier = ("photograph " * 30).strip()  # more characters, 32 tokens: not the one named
    with pytest.raises(ConfigError, match=r"\(longest: 'a a [a ]*'\)$"):
        prompt_inputs(tiny_clip, [fitting_but_wordier, ("a " * 76).strip()])


def test_a_template_without_a_place_for_the_name_is_refused():
    from dpl.method.text import fill_template

    with pytest.raises(ConfigError, match=r"""^Prompt template 'a photo\.' has no "\{\}" where the class name goes$"""):
        fill_template("a photo.", "dog")
