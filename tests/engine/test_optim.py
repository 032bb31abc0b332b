"""Optimisers and learning-rate schedules per epoch (Dassl's rules; DESIGN.md §6 for warm-up + cosine)."""
import math

import pytest
import torch
import torch.nn as nn

from dpl.engine.config import get_cfg_default
from dpl.engine.optim import build_lr_scheduler, build_optimizer
from dpl.errors import ConfigError


def optim_cfg(**kw):
    cfg = get_cfg_default().OPTIM
    for k, v in kw.items():
        cfg[k] = v
    return cfg


def lrs_per_epoch(cfg, epochs=None):
    """The lr each epoch trains at, stepping the scheduler once per epoch as the trainers do."""
    model = nn.Linear(2, 2)
    opt = build_optimizer(model, cfg)
    sched = build_lr_scheduler(opt, cfg)
    out = []
    for _ in range(epochs or cfg.MAX_EPOCH):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_constant_warmup_then_cosine_matches_design_formula():
    lr, max_epoch = 3.5e-3, 10
    cfg = optim_cfg(NAME="sgd", LR=lr, MAX_EPOCH=max_epoch, LR_SCHEDULER="cosine", WARMUP_EPOCH=1,
                    WARMUP_TYPE="constant", WARMUP_CONS_LR=1e-5)
    got = lrs_per_epoch(cfg)
    expected = [1e-5] + [lr * (1 + math.cos(math.pi * (e - 1) / max_epoch)) / 2 for e in range(1, max_epoch)]
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_linear_warmup():
    cfg = optim_cfg(NAME="sgd", LR=1.0, MAX_EPOCH=6, LR_SCHEDULER="cosine", WARMUP_EPOCH=3,
                    WARMUP_TYPE="linear", WARMUP_MIN_LR=1e-4)
    got = lrs_per_epoch(cfg)
    # epoch 0 at MIN_LR, then LR * e / WARMUP_EPOCH, then cosine from its own epoch 0
    assert got[:3] == pytest.approx([1e-4, 1 / 3, 2 / 3])
    assert got[3:] == pytest.approx([(1 + math.cos(math.pi * e / 6)) / 2 for e in range(3)])


def test_single_and_multi_step():
    assert lrs_per_epoch(optim_cfg(NAME="sgd", LR=1.0, LR_SCHEDULER="single_step", STEPSIZE=(2,), GAMMA=0.5,
                                   MAX_EPOCH=5)) == pytest.approx([1, 1, 0.5, 0.5, 0.25])
    # STEPSIZE -1: the step happens at MAX_EPOCH, i.e. never inside training
    assert lrs_per_epoch(optim_cfg(NAME="sgd", LR=1.0, MAX_EPOCH=3)) == pytest.approx([1, 1, 1])
    assert lrs_per_epoch(optim_cfg(NAME="sgd", LR=1.0, LR_SCHEDULER="multi_step", STEPSIZE=(1, 3), GAMMA=0.1,
                                   MAX_EPOCH=4)) == pytest.approx([1, 0.1, 0.1, 0.01])


def test_warmup_scheduler_state_round_trip():
    cfg = optim_cfg(NAME="sgd", LR=1.0, MAX_EPOCH=5, LR_SCHEDULER="cosine", WARMUP_EPOCH=1, WARMUP_TYPE="constant")
    model = nn.Linear(2, 2)
    opt = build_optimizer(model, cfg)
    sched = build_lr_scheduler(opt, cfg)
    for _ in range(2):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2 = build_optimizer(nn.Linear(2, 2), cfg)
    sched2 = build_lr_scheduler(opt2, cfg)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    for _ in range(2):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


@pytest.mark.parametrize("name,cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                      ("adamw", torch.optim.AdamW)])
def test_optimizers(name, cls):
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[0].requires_grad_(False)
    opt = build_optimizer(model, optim_cfg(NAME=name, LR=0.1, WEIGHT_DECAY=0.01))
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["lr"] == 0.1 and group["weight_decay"] == 0.01
    assert len(group["params"]) == 2  # frozen parameters are left out
    if name == "sgd":
        assert group["momentum"] == 0.9
    else:
        assert group["betas"] == (0.9, 0.999)


def test_staged_lr_and_errors():
    model = nn.Sequential()
    model.add_module("backbone", nn.Linear(2, 2))
    model.add_module("head", nn.Linear(2, 2))
    opt = build_optimizer(model, optim_cfg(NAME="sgd", LR=1.0, STAGED_LR=True, NEW_LAYERS=("head",), BASE_LR_MULT=0.1))
    assert [g["lr"] for g in opt.param_groups] == [pytest.approx(0.1), 1.0]
    with pytest.raises(ConfigError, match="OPTIM.NAME"):
        build_optimizer(model, optim_cfg(NAME="adagrad"))
    with pytest.raises(ConfigError, match="OPTIM.LR_SCHEDULER"):
        build_lr_scheduler(torch.optim.SGD(model.parameters(), lr=1), optim_cfg(LR_SCHEDULER="poly"))


@pytest.mark.parametrize("name", ["sgd", "adam", "amsgrad", "rmsprop", "adamw", "radam"])
def test_updates_equal_the_per_tensor_loop_bit_for_bit(name):
    """build_optimizer's optimizers update every tensor with one operator where torch allows it (fewer dispatches
    per step); the values must be exactly those of torch's per-tensor loop, the CPU default the runs had before."""
    cfg = optim_cfg(NAME=name, LR=3.5e-3, WEIGHT_DECAY=5e-4, MOMENTUM=0.9)
    torch.manual_seed(0)
    start = [torch.randn(k, 8) for k in range(1, 7)]
    results = []
    for loop in (False, True):
        params = [nn.Parameter(t.clone()) for t in start]
        opt = build_optimizer(params, cfg)
        for group in opt.param_groups:
            group["foreach"] = False if loop else group["foreach"]
        g = torch.Generator().manual_seed(1)
        for _ in range(4):
            for p in params:
                p.grad = torch.randn(p.shape, generator=g)
            opt.step()
        results.append(params)
    for ours, loop in zip(*results):
        assert torch.equal(ours, loop)
    assert not torch.equal(results[0][0], start[0])  # the steps moved the tensors


# Every hyper-parameter reaches its optimizer (a mutation run found only lr / weight decay / class checked).
COMMON = dict(LR=0.03, WEIGHT_DECAY=0.002, MOMENTUM=0.8, RMSPROP_ALPHA=0.95, ADAM_BETA1=0.8, ADAM_BETA2=0.99)
EXPECTED = {
    "sgd_nesterov": (dict(NAME="sgd", SGD_NESTEROV=True, SGD_DAMPNING=0.0), torch.optim.SGD,
                     dict(momentum=0.8, dampening=0.0, nesterov=True, foreach=True)),
    "sgd_dampening": (dict(NAME="sgd", SGD_NESTEROV=False, SGD_DAMPNING=0.1), torch.optim.SGD,
                      dict(momentum=0.8, dampening=0.1, nesterov=False, foreach=True)),
    "adam": (dict(NAME="adam"), torch.optim.Adam, dict(betas=(0.8, 0.99), amsgrad=False, foreach=True)),
    "amsgrad": (dict(NAME="amsgrad"), torch.optim.Adam, dict(betas=(0.8, 0.99), amsgrad=True, foreach=True)),
    "rmsprop": (dict(NAME="rmsprop"), torch.optim.RMSprop, dict(momentum=0.8, alpha=0.95, foreach=True)),
    "radam": (dict(NAME="radam"), torch.optim.RAdam, dict(betas=(0.8, 0.99), foreach=None)),
    "adamw": (dict(NAME="adamw"), torch.optim.AdamW, dict(betas=(0.8, 0.99), foreach=True)),
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_every_setting_reaches_the_optimizer(case):
    opts, cls, expected = EXPECTED[case]
    opt = build_optimizer(nn.Linear(2, 2), optim_cfg(**COMMON, **opts))
    assert type(opt) is cls
    for key, value in {"lr": 0.03, "weight_decay": 0.002, **expected}.items():
        assert opt.defaults[key] == value, key


@pytest.mark.parametrize("wrap", [False, True], ids=["module", "DataParallel"])
@pytest.mark.parametrize("new_layers", ["head", ("head",)], ids=["str", "tuple"])
def test_staged_lr_splits_the_children(wrap, new_layers):
    model = nn.Sequential()
    model.add_module("backbone", nn.Linear(2, 2))
    model.add_module("head", nn.Linear(2, 2))
    model.backbone.bias.requires_grad_(False)
    cfg = optim_cfg(NAME="sgd", LR=1.0, STAGED_LR=True, NEW_LAYERS=new_layers, BASE_LR_MULT=0.1)
    opt = build_optimizer(nn.DataParallel(model) if wrap else model, cfg)
    base, new = opt.param_groups
    assert base["params"] == [model.backbone.weight] and base["lr"] == pytest.approx(0.1)
    assert new["params"] == list(model.head.parameters()) and new["lr"] == 1.0


def test_param_group_dicts_are_kept_as_given():
    a, b = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    opt = build_optimizer([{"params": [a], "lr": 0.5}, {"params": [b]}], optim_cfg(NAME="sgd", LR=0.1))
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    b.requires_grad_(False)
    opt = build_optimizer([a, b], optim_cfg(NAME="sgd", LR=0.1))  # plain parameters: the frozen ones left out
    assert opt.param_groups[0]["params"] == [a]


def test_optimizer_errors_say_what_is_wrong():
    model = nn.Linear(2, 2)
    with pytest.raises(ConfigError, match=r"^OPTIM.NAME is 'adagrad'; expected one of adam, amsgrad, sgd, rmsprop, "
                                          r"radam, adamw$"):
        build_optimizer(model, optim_cfg(NAME="adagrad"))
    with pytest.raises(ConfigError, match=r"^OPTIM.STAGED_LR is True but OPTIM.NEW_LAYERS is empty$"):
        build_optimizer(model, optim_cfg(STAGED_LR=True, NEW_LAYERS=()))
    model.requires_grad_(False)
    with pytest.raises(ConfigError, match=r"^build_optimizer got no trainable parameters \(every parameter has "
                                          r"requires_grad=False\)$"):
        build_optimizer(model, optim_cfg())


def test_scheduler_rules_and_errors():
    def sched(**kw):
        return build_lr_scheduler(build_optimizer(nn.Linear(2, 2), optim_cfg(LR=1.0, **kw)), optim_cfg(LR=1.0, **kw))

    assert sched(LR_SCHEDULER="single_step", STEPSIZE=0, MAX_EPOCH=7, WARMUP_EPOCH=0).step_size == 7  # <= 0: MAX_EPOCH
    assert sched(LR_SCHEDULER="single_step", STEPSIZE=1, WARMUP_EPOCH=0).step_size == 1
    assert lrs_per_epoch(optim_cfg(LR=1.0, LR_SCHEDULER="multi_step", STEPSIZE=(1, 2), GAMMA=0.5, MAX_EPOCH=3,
                                   WARMUP_EPOCH=0)) == [1.0, 0.5, 0.25]
    assert type(sched(LR_SCHEDULER="cosine", WARMUP_EPOCH=0)) is torch.optim.lr_scheduler.CosineAnnealingLR
    assert sched(WARMUP_EPOCH=2, WARMUP_RECOUNT=False).successor.last_epoch == 2  # Dassl: no recount
    warm = sched(LR_SCHEDULER="cosine", WARMUP_EPOCH=1, WARMUP_TYPE="constant", MAX_EPOCH=4)
    for _ in range(2):  # into the successor's epochs: its lr
        warm.optimizer.step()
        warm.step()
    assert warm.get_last_lr() == warm.successor.get_last_lr() == [warm.optimizer.param_groups[0]["lr"]]
    with pytest.raises(TypeError, match="^warm-up schedulers are stepped without an epoch argument$"):
        warm.step(3)
    with pytest.raises(ConfigError, match=r"^OPTIM.LR_SCHEDULER is 'poly'; expected one of single_step, multi_step, "
                                          r"cosine$"):
        sched(LR_SCHEDULER="poly")
    with pytest.raises(ConfigError, match=r"^OPTIM.STEPSIZE must be an int for single_step, got 2.5$"):
        sched(LR_SCHEDULER="single_step", STEPSIZE=2.5)
    with pytest.raises(ConfigError, match=r"^OPTIM.STEPSIZE must be a list for multi_step, got 3$"):
        sched(LR_SCHEDULER="multi_step", STEPSIZE=3)
    with pytest.raises(ConfigError, match=r"^OPTIM.WARMUP_TYPE is 'exp'; expected constant or linear$"):
        sched(WARMUP_EPOCH=1, WARMUP_TYPE="exp")
