"""Independent references for the loss tests: OpenAI CLIP's own forward (clip-anytorch's modules, full-length
token sequences, no prompting code of this project) and the loss formulas written out from the papers / official
code. All in fp32."""
import clip
import torch
import torch.nn.functional as F


def clip_tokens(model, texts):
    return clip.tokenize(texts, context_length=model.positional_embedding.shape[0])


def text_transformer(model, embeddings, tokens):
    """CLIP's text tower on given token embeddings: positions, causal transformer, final LN, EOT row, projection."""
    x = embeddings + model.positional_embedding.float()
    x = model.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
    x = model.ln_final(x)
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ model.text_projection.float()


def raw_text_features(model, texts):
    tokens = clip_tokens(model, texts)
    return text_transformer(model, model.token_embedding(tokens).float(), tokens)


def template_mean(model, classnames, templates):
    """Normalised mean over templates of the raw (unnormalised) zero-shot text features."""
    raw = [raw_text_features(model, [t.format(c.replace("_", " ")) for c in classnames]) for t in templates]
    return F.normalize(torch.stack(raw).mean(dim=0), dim=-1)


def image_features(model, images):
    return F.normalize(model.encode_image(images.float()).float(), dim=-1)


def cross_entropy(logits, labels):
    log_p = logits - logits.logsumexp(dim=1, keepdim=True)
    return -log_p[torch.arange(len(labels)), labels].mean()


def kl_teacher_student(teacher_logits, student_logits):
    """sum over batch and classes of p_t * (log p_t - log p_s)."""
    log_t, log_s = teacher_logits.log_softmax(dim=1), student_logits.log_softmax(dim=1)
    return (log_t.exp() * (log_t - log_s)).sum()


def mean_abs(a, b):
    return (a - b).abs().mean()
