"""In-repo references that follow the official DPL code's calls line by line (Zhenhan-Huang/Differentiable-Prompt-Learn:
train.py, trainers/trainersupernet.py, trainers/trainersubnet.py; Dassl's set_random_seed), for the random draws of a
run's set-up. Widths and depths come from the model (the official code writes 768 and 12 for ViT-B/16)."""
import random

import numpy as np
import torch
from clip.model import build_model


def set_random_seed(seed):
    """Dassl's set_random_seed."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def load_clip_to_cpu(state_dict):
    """The official load_clip_to_cpu after reading the file: clip.build_model (its constructor draws its random init
    from the global RNG before the weights are loaded; the official designs draw as the stock CLIP does)."""
    return build_model(dict(state_dict))


def search_initial_values(state_dict, seed, n_ctx):
    """TrainerSupernet.build_model up to the end of MultiModalPromptLearner.__init__ (fp32: clip_model.float())."""
    set_random_seed(seed)
    clip_model = load_clip_to_cpu(state_dict).float()
    dtype = clip_model.dtype
    img_depth, img_width = len(clip_model.visual.transformer.resblocks), clip_model.visual.conv1.out_channels
    txt_depth, ctx_dim = len(clip_model.transformer.resblocks), clip_model.ln_final.weight.shape[0]
    alphas_img = 1.0e-3 * torch.randn(img_depth, 1 + n_ctx, dtype=dtype)
    ctx_img_lst = [[torch.randn(c + 1, img_width, dtype=dtype) for c in range(n_ctx)] for _ in range(img_depth)]
    alphas_txt = 1.0e-3 * torch.randn(txt_depth, 1 + n_ctx, dtype=dtype)
    ctx_txt_lst = [[torch.rand(c + 1, ctx_dim, dtype=dtype) for c in range(n_ctx)] for _ in range(txt_depth)]
    return {"alphas_img": alphas_img, "ctx_img_lst": ctx_img_lst, "alphas_txt": alphas_txt,
            "ctx_txt_lst": ctx_txt_lst}


def train_initial_values(state_dict, seed, vision_lengths, text_lengths):
    """TrainerSubnet.build_model up to the end of MultiModalPromptLearner.__init__: the prompts of the layout's
    lengths (empty tensors, then normal_ std 0.02 each, image tower first), then the zero-shot teacher's load."""
    set_random_seed(seed)
    clip_model = load_clip_to_cpu(state_dict).float()
    img_width, ctx_dim = clip_model.visual.conv1.out_channels, clip_model.ln_final.weight.shape[0]
    ctx_img_lst = torch.nn.ParameterList([torch.empty(idx, img_width) for idx in vision_lengths])
    for param in ctx_img_lst:
        torch.nn.init.normal_(param, std=0.02)
    ctx_txt_lst = torch.nn.ParameterList([torch.empty(idx, ctx_dim) for idx in text_lengths])
    for param in ctx_txt_lst:
        torch.nn.init.normal_(param, std=0.02)
    load_clip_to_cpu(state_dict).float()  # clip_zs, the teacher (any KD weight)
    return {"ctx_img_lst": [p.detach() for p in ctx_img_lst], "ctx_txt_lst": [p.detach() for p in ctx_txt_lst]}


class DasslDatasetWrapper(torch.utils.data.Dataset):
    """Dassl's DatasetWrapper.__getitem__ for one train transform and K_TRANSFORMS 1: read the image, apply the
    transform (its random draws come from the global RNG of whichever process calls it)."""

    def __init__(self, data_source, transform, read_image):
        self.data_source, self.transform, self.read_image = data_source, transform, read_image

    def __len__(self):
        return len(self.data_source)

    def __getitem__(self, idx):
        item = self.data_source[idx]
        img0 = self.read_image(item.impath)
        return {"label": item.label, "domain": item.domain, "impath": item.impath, "index": idx,
                "img": self.transform(img0)}


def dassl_train_loader(data_source, transform, read_image, batch_size, num_workers):
    """Dassl's build_data_loader for the train split: RandomSampler(data_source), torch's DataLoader with Dassl's
    arguments (no worker_init_fn: each worker is seeded by torch from the iterator's base seed + its id)."""
    return torch.utils.data.DataLoader(
        DasslDatasetWrapper(data_source, transform, read_image),
        batch_size=batch_size,
        sampler=torch.utils.data.RandomSampler(data_source),
        num_workers=num_workers,
        drop_last=len(data_source) >= batch_size,
        pin_memory=False,
    )
