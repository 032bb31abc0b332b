"""Every loss term against a formula written out here (reference.py), on the tiny OpenAI CLIP in fp32, never
against values the trainer returned: CE, DPL's distillation (weight != 1, temperature != 1, teacher text features
= the 60-template mean), PromptSRC's three consistency terms and their weights, CoCoOp's meta-net path."""
import pytest
import reference as ref
import torch
import torch.nn.functional as F
from methods_helpers import build_on

from dpl.method.templates import IMAGENET_TEMPLATES_60

TOL = dict(rtol=1e-4, atol=1e-5)  # fp32 on both sides; the prompted and reference paths order sums differently


def first_batch(trainer):
    batch = next(iter(trainer.train_loader_x))
    images, labels = trainer.parse_batch_train(batch)
    return batch, images, labels


@pytest.mark.parametrize("name", ["CoOp", "CoCoOp", "IVLP", "VPT", "MaPLe", "DPL"])
def test_cross_entropy(name, data_root, tmp_path):
    trainer = build_on(name, "openai", data_root, tmp_path)
    logits = torch.randn(5, 7) * 3
    labels = torch.tensor([0, 6, 3, 3, 1])
    loss, _ = trainer.compute_loss(logits, labels, batch=None)
    torch.testing.assert_close(loss, ref.cross_entropy(logits, labels), **TOL)


@pytest.mark.parametrize("reduction", ["numel", "batchmean"])
def test_dpl_distillation(reduction, data_root, tmp_path):
    weight, temperature = 0.3, 2.0
    trainer = build_on("DPL", "openai", data_root, tmp_path, opts=[
        "TRAINER.DPL.KD_WEIGHT", weight, "TRAINER.DPL.KD_TEMPERATURE", temperature,
        "TRAINER.DPL.KD_REDUCTION", reduction])
    model = trainer.clip.model
    classnames = trainer.dm.dataset.classnames
    assert len(IMAGENET_TEMPLATES_60) == 60
    teacher_text = ref.template_mean(model, classnames, IMAGENET_TEMPLATES_60)
    torch.testing.assert_close(trainer.teacher.text_features.float(), teacher_text, **TOL)

    batch, images, labels = first_batch(trainer)
    trainer.model.train()
    with torch.no_grad():
        student = trainer.model(images).float()
        loss, _ = trainer.compute_loss(student, labels, batch)
    teacher = model.logit_scale.exp() * ref.image_features(model, images) @ teacher_text.t()
    kd = ref.kl_teacher_student(teacher / temperature, student / temperature) * temperature ** 2
    kd = kd / (student.numel() if reduction == "numel" else student.shape[0])
    assert kd > 1e-4  # a real term: random prompts keep the student away from the teacher
    torch.testing.assert_close(loss, ref.cross_entropy(student, labels) + weight * kd, **TOL)


def test_promptsrc_consistency_terms(data_root, tmp_path):
    trainer = build_on("PromptSRC", "openai", data_root, tmp_path)
    c = trainer.method_cfg
    assert (c.TEXT_LOSS_WEIGHT, c.IMAGE_LOSS_WEIGHT) == (25, 10)  # PromptSRC's published weights
    model = trainer.clip.model
    batch, images, labels = first_batch(trainer)
    trainer.model.train()
    with torch.no_grad():
        logits = trainer.model(images).float()
        text = trainer.model.class_text_features().float()  # the prompted (student) features
        image = trainer.model.image_features(images).float()
    frozen_text = ref.template_mean(model, trainer.dm.dataset.classnames, IMAGENET_TEMPLATES_60)
    frozen_image = ref.image_features(model, images)
    frozen_logits = model.logit_scale.exp() * frozen_image @ frozen_text.t()
    expected = {
        "ce": ref.cross_entropy(logits, labels),
        "text": ref.mean_abs(text, frozen_text),  # L1, mean over elements
        "image": ref.mean_abs(image, frozen_image),
        "logits": ref.kl_teacher_student(frozen_logits, logits) / logits.numel(),
    }
    assert all(v > 1e-6 for v in expected.values()), expected

    def loss_at(text_weight, image_weight):
        trainer.cfg.defrost()
        c.TEXT_LOSS_WEIGHT, c.IMAGE_LOSS_WEIGHT = text_weight, image_weight
        with torch.no_grad():
            return trainer.compute_loss(logits, labels, batch)[0]

    base = loss_at(0, 0)
    torch.testing.assert_close(base, expected["ce"] + expected["logits"], **TOL)
    torch.testing.assert_close(loss_at(1, 0) - base, expected["text"], rtol=1e-3, atol=1e-6)
    torch.testing.assert_close(loss_at(0, 1) - base, expected["image"], rtol=1e-3, atol=1e-6)
    torch.testing.assert_close(loss_at(25, 10), expected["ce"] + 25 * expected["text"] + 10 * expected["image"]
                               + expected["logits"], **TOL)


def test_cocoop_meta_net_shifts_each_image_context(data_root, tmp_path):
    trainer = build_on("CoCoOp", "openai", data_root, tmp_path)
    model = trainer.clip.model
    learner = trainer.model.prompt_learner
    ctx = learner.context.ctx.detach().float()
    n_ctx = ctx.shape[0]
    with torch.no_grad():  # the meta-net moved off zero so its path carries weight in the logits
        for p in learner.meta_net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    first, second = learner.meta_net[0], learner.meta_net[2]
    _, images, _ = first_batch(trainer)
    images = images[:2]
    trainer.model.train()
    with torch.no_grad():
        logits = trainer.model(images).float()
        feats = ref.image_features(model, images)
        shifts = F.linear(F.relu(F.linear(feats, first.weight.float(), first.bias.float())),
                          second.weight.float(), second.bias.float())
        names = [c.replace("_", " ") for c in trainer.dm.dataset.classnames]
        tokens = ref.clip_tokens(model, [" ".join(["X"] * n_ctx) + f" {c}." for c in names])
        rows = []
        for feat, shift in zip(feats, shifts):
            emb = model.token_embedding(tokens).float()
            emb[:, 1:1 + n_ctx] = ctx + shift  # one shift shared by every context token
            text = F.normalize(ref.text_transformer(model, emb, tokens), dim=-1)
            rows.append(model.logit_scale.exp() * feat @ text.t())
        unshifted = F.normalize(ref.text_transformer(model, torch.cat([model.token_embedding(tokens)[:, :1].float(),
                                ctx.expand(len(names), -1, -1), model.token_embedding(tokens)[:, 1 + n_ctx:].float()],
                                dim=1), tokens), dim=-1)
    expected = torch.stack(rows)
    torch.testing.assert_close(logits, expected, **TOL)
    without_shift = model.logit_scale.exp() * feats @ unshifted.t()
    assert (logits - without_shift).abs().max() > 1e-3  # the meta-net path changes the logits


@pytest.mark.parametrize("name", ["DPL", "DPLSearch"])
def test_dpl_logits_are_scaled_cosine_similarities(name, data_root, tmp_path):
    """logit = exp(logit_scale) * cos(image feature, class text feature), each feature normalised on its own."""
    trainer = build_on(name, "openai", data_root, tmp_path)
    learner = trainer.model
    _, images, _ = first_batch(trainer)
    with torch.no_grad():
        text = learner.clip.encode_text(learner.text_embeddings, learner.text_eot, learner.text_prompts())
        image = learner.clip.encode_image(images, learner.vision_prompts())
        expected = learner.clip.logit_scale.exp() * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).t()
        torch.testing.assert_close(learner(images).float(), expected.float(), **TOL)
