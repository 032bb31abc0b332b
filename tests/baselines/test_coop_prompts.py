"""CoOp's prompt assembly against stock CLIP reading the written-out sentence: with the context set to the token
embeddings of known words, every class-token position (end / middle / front) and the class-specific context give
exactly the embeddings, and the text features, of CLIP's own tokenizer and ``encode_text`` on that sentence. Then
the context's initialisation (CTX_INIT words, N(0, 0.02)), its log lines, and the config reaching the learner."""
import clip
import pytest
import torch
import torch.nn.functional as F
from baseline_helpers import build_learner, make_cfg

from dpl.errors import ConfigError
from trainers.coop import CoOpLearner, CoOpPromptLearner

CLASSES = ["dog", "golden_retriever", "sea lion"]
WORDS = ["cat", "red", "sky", "sun", "tree"]  # single BPE tokens each: one word per context vector
CSC_WORDS = [WORDS, ["blue", "car", "road", "hat", "box"], ["green", "boat", "rain", "cup", "pen"]]


def sentence(words, name, position):
    """The prompt the official CoOp builds, as words: ``half = n_ctx // 2`` context words before the name."""
    half = len(words) // 2
    if position == "end":
        parts = words + [name]
    elif position == "middle":
        parts = words[:half] + [name] + words[half:]
    else:
        parts = [name] + words
    return " ".join(parts) + "."


def word_embeddings(stock, words):
    tokens = clip.tokenize([" ".join(words)])[0]
    assert int(tokens.argmax()) == len(words) + 1  # each word one token, between start and end
    return stock.token_embedding(tokens[1:len(words) + 1])


@pytest.mark.parametrize("csc", [False, True], ids=["unified", "class-specific"])
@pytest.mark.parametrize("position", ["end", "middle", "front"])
def test_prompts_are_the_written_out_sentences(tiny_clip, position, csc):
    stock = tiny_clip.model
    learner = CoOpPromptLearner(tiny_clip, CLASSES, len(WORDS), csc=csc, position=position)
    with torch.no_grad():
        if csc:
            learner.ctx.copy_(torch.stack([word_embeddings(stock, w) for w in CSC_WORDS]))
        else:
            learner.ctx.copy_(word_embeddings(stock, WORDS))
    names = [c.replace("_", " ") for c in CLASSES]
    sentences = [sentence(CSC_WORDS[i] if csc else WORDS, n, position) for i, n in enumerate(names)]
    tokens = clip.tokenize(sentences)

    with torch.no_grad():
        embeddings = learner()
        assert embeddings.shape == (len(CLASSES), tokens.shape[1], stock.token_embedding.embedding_dim)
        assert torch.equal(embeddings, stock.token_embedding(tokens))
        assert torch.equal(learner.eot_index.cpu(), tokens.argmax(-1))
        features = CoOpLearner(tiny_clip, learner).class_text_features()
        expected = F.normalize(stock.encode_text(tokens), dim=-1)
    torch.testing.assert_close(features, expected)


def test_middle_splits_an_odd_context_with_the_shorter_half_first(tiny_clip):
    """n_ctx 5 -> 2 words, the name, 3 words (the official ``n_ctx // 2``)."""
    learner = CoOpPromptLearner(tiny_clip, ["dog"], 5, position="middle")
    with torch.no_grad():
        learner.ctx.copy_(word_embeddings(tiny_clip.model, WORDS))
        got = learner()[0]
    assert torch.equal(got, tiny_clip.model.token_embedding(clip.tokenize(["cat red dog sky sun tree."]))[0])


@pytest.mark.parametrize("position", ["end", "middle", "front"])
def test_ctx_init_words_are_the_context(tiny_clip, position, capsys):
    learner = CoOpPromptLearner(tiny_clip, CLASSES, None, ctx_init="a_photo_of_a", position=position)
    words = ["a", "photo", "of", "a"]
    assert learner.n_ctx == 4 and torch.equal(learner.ctx.detach(), word_embeddings(tiny_clip.model, words))
    tokens = clip.tokenize([sentence(words, c.replace("_", " "), position) for c in CLASSES])
    with torch.no_grad():
        assert torch.equal(learner(), tiny_clip.model.token_embedding(tokens))
    assert 'Initial context: "a photo of a" (4 tokens, unified)\n' in capsys.readouterr().out


def test_ctx_init_with_csc_is_one_unified_context_as_in_the_official_coop(tiny_clip, capsys):
    """The official CoOp initialises from CTX_INIT with a (n_ctx, width) context whatever CSC says."""
    learner = CoOpPromptLearner(tiny_clip, CLASSES, None, ctx_init="a photo of a", csc=True)
    assert learner.ctx.shape == (4, tiny_clip.text_width)
    assert "CSC is ignored with CTX_INIT" in capsys.readouterr().out


@pytest.mark.parametrize("csc", [False, True], ids=["unified", "class-specific"])
def test_random_context_is_normal_with_std_002(tiny_clip, csc, capsys):
    torch.manual_seed(0)
    learner = CoOpPromptLearner(tiny_clip, CLASSES, 16, csc=csc)
    shape = (len(CLASSES), 16, tiny_clip.text_width) if csc else (16, tiny_clip.text_width)
    assert learner.ctx.shape == shape
    assert abs(learner.ctx.std().item() - 0.02) < 0.002 and abs(learner.ctx.mean().item()) < 0.002
    kind = "class-specific" if csc else "unified"
    assert capsys.readouterr().out == f'Initial context: "{" ".join(["X"] * 16)}" (16 tokens, {kind})\n'


def test_ctx_init_of_another_length_than_the_layouts_is_a_random_context_and_says_so(tiny_clip, capsys):
    learner = CoOpPromptLearner(tiny_clip, CLASSES, 3, ctx_init="a photo of a")
    assert learner.ctx.shape == (3, tiny_clip.text_width)
    out = capsys.readouterr().out
    assert "CTX_INIT 'a photo of a' has 4 tokens but the context has 3: random init\n" in out
    assert 'Initial context: "X X X" (3 tokens, unified)\n' in out


def test_an_unknown_class_token_position_names_the_key(tiny_clip):
    with pytest.raises(ConfigError, match=r"TRAINER.COOP.CLASS_TOKEN_POSITION is 'start'; expected one of"):
        CoOpPromptLearner(tiny_clip, CLASSES, 4, position="start")


@pytest.mark.parametrize("layout", ["", "uniform:3"], ids=["N_CTX", "layout"])
def test_build_learner_passes_the_config(tiny_clip, layout):
    cfg = make_cfg("COOP", layout=layout, N_CTX=5, CSC=True, CLASS_TOKEN_POSITION="middle")
    learner = build_learner("CoOp", cfg, tiny_clip, CLASSES).prompt_learner
    n_ctx = 3 if layout else 5
    assert learner.ctx.shape == (len(CLASSES), n_ctx, tiny_clip.text_width) and learner.position == "middle"

    cfg = make_cfg("COOP", CTX_INIT="a photo of a")
    learner = build_learner("CoOp", cfg, tiny_clip, CLASSES).prompt_learner
    assert torch.equal(learner.ctx.detach(), word_embeddings(tiny_clip.model, ["a", "photo", "of", "a"]))


def test_only_the_context_is_saved_so_it_loads_onto_other_classes(tiny_clip):
    base = CoOpPromptLearner(tiny_clip, CLASSES, 5)
    assert list(base.state_dict()) == ["ctx"]  # the class-token buffers are rebuilt from the names, never saved
    new = CoOpPromptLearner(tiny_clip, ["car", "tree"], 5)
    new.load_state_dict(base.state_dict())
    with torch.no_grad():
        base.ctx.copy_(word_embeddings(tiny_clip.model, WORDS))
        new.load_state_dict(base.state_dict())
        assert torch.equal(new(), tiny_clip.model.token_embedding(clip.tokenize(["cat red sky sun tree car.",
                                                                                  "cat red sky sun tree tree."])))
