"""``build_optimizer`` with Dassl's options (sgd / adam / adamw / rmsprop / radam, staged lr)."""
import torch
import torch.nn as nn

from dpl.errors import ConfigError

AVAI_OPTIMS = ["adam", "amsgrad", "sgd", "rmsprop", "radam", "adamw"]


def _trainable(params):
    return [p for p in params if p.requires_grad]


def build_optimizer(model, optim_cfg, param_groups=None):
    """``model`` is an nn.Module or an iterable of parameters (or of param-group dicts);
    ``param_groups`` (a list of dicts) overrides both. Only parameters with ``requires_grad`` are optimised."""
    name = optim_cfg.NAME
    if name not in AVAI_OPTIMS:
        raise ConfigError(f"OPTIM.NAME is {name!r}; expected one of {', '.join(AVAI_OPTIMS)}")
    lr = optim_cfg.LR
    wd = optim_cfg.WEIGHT_DECAY

    if param_groups is None:
        if isinstance(model, nn.Module):
            if optim_cfg.STAGED_LR:
                model = model.module if isinstance(model, nn.DataParallel) else model
                new_layers = optim_cfg.NEW_LAYERS
                if isinstance(new_layers, str):
                    new_layers = [new_layers]
                if not new_layers:
                    raise ConfigError("OPTIM.STAGED_LR is True but OPTIM.NEW_LAYERS is empty")
                base, new = [], []
                for child_name, child in model.named_children():
                    (new if child_name in new_layers else base).extend(child.parameters())
                param_groups = [{"params": _trainable(base), "lr": lr * optim_cfg.BASE_LR_MULT},
                                {"params": _trainable(new)}]
            else:
                param_groups = _trainable(model.parameters())
        else:
            items = list(model)
            param_groups = items if items and isinstance(items[0], dict) else _trainable(items)
    if not param_groups:
        raise ConfigError("build_optimizer got no trainable parameters (every parameter has requires_grad=False)")

    betas = (optim_cfg.ADAM_BETA1, optim_cfg.ADAM_BETA2)
    # foreach: one operator per update over all tensors instead of a few per tensor (torch's default on CUDA
    # only); the updates are bit-identical to the per-tensor loop for these four (tests/engine/test_optim.py).
    # RAdam's foreach form rounds differently, so it keeps torch's default.
    if name in ("adam", "amsgrad"):
        return torch.optim.Adam(param_groups, lr=lr, weight_decay=wd, betas=betas, amsgrad=name == "amsgrad",
                                foreach=True)
    if name == "sgd":
        return torch.optim.SGD(param_groups, lr=lr, momentum=optim_cfg.MOMENTUM, weight_decay=wd,
                               dampening=optim_cfg.SGD_DAMPNING, nesterov=optim_cfg.SGD_NESTEROV, foreach=True)
    if name == "rmsprop":
        return torch.optim.RMSprop(param_groups, lr=lr, momentum=optim_cfg.MOMENTUM, weight_decay=wd,
                                   alpha=optim_cfg.RMSPROP_ALPHA, foreach=True)
    if name == "radam":
        return torch.optim.RAdam(param_groups, lr=lr, weight_decay=wd, betas=betas)
    return torch.optim.AdamW(param_groups, lr=lr, weight_decay=wd, betas=betas, foreach=True)
