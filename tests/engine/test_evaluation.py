"""Classification evaluator (accuracy, error, macro F1, per-class) and compute_accuracy vs hand counts."""
import pytest
import torch

from dpl.engine.config import get_cfg_default
from dpl.engine.evaluation import build_evaluator
from dpl.engine.metrics import compute_accuracy
from dpl.errors import UnknownNameError


def logits_for(preds, n_classes=3):
    out = torch.zeros(len(preds), n_classes)
    out[torch.arange(len(preds)), torch.tensor(preds)] = 1.0
    return out


def test_classification_result_block_and_values(capsys):
    cfg = get_cfg_default()
    cfg.TEST.PER_CLASS_RESULT = True
    ev = build_evaluator(cfg, lab2cname={0: "cat", 1: "dog", 2: "owl"})
    true = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 2, 0]
    ev.process(logits_for(pred[:4]), torch.tensor(true[:4]))  # two batches
    ev.process(logits_for(pred[4:]), torch.tensor(true[4:]))
    res = ev.evaluate()
    # by hand: class 0 tp2 fp1 fn1 -> F1 2/3; class 1 tp1 fp1 fn1 -> 1/2; class 2 tp0 -> 0
    assert res["accuracy"] == pytest.approx(300 / 6)
    assert res["error_rate"] == pytest.approx(50.0)
    assert res["macro_f1"] == pytest.approx(100 * (2 / 3 + 1 / 2 + 0) / 3)
    assert res["perclass_accuracy"] == pytest.approx(100 * (2 / 3 + 1 / 2 + 0) / 3)
    assert list(res)[0] == "accuracy"
    out = capsys.readouterr().out
    assert ("=> result\n* total: 6\n* correct: 3\n* accuracy: 50.0%\n* error: 50.0%\n* macro_f1: 38.9%\n"
            in out)
    assert "* class: 1 (dog)\ttotal: 2\tcorrect: 1\tacc: 50.0%" in out


def test_reset_clears_counts(capsys):
    ev = build_evaluator(get_cfg_default())
    ev.process(logits_for([0, 1]), torch.tensor([1, 1]))
    ev.reset()
    ev.process(logits_for([2]), torch.tensor([2]))
    assert ev.evaluate()["accuracy"] == 100.0


def test_unknown_evaluator():
    cfg = get_cfg_default()
    cfg.TEST.EVALUATOR = "Classificaton"
    with pytest.raises(UnknownNameError, match="Classification"):
        build_evaluator(cfg)


def test_compute_accuracy_top1_top2():
    output = torch.tensor([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05], [0.2, 0.3, 0.5], [0.35, 0.4, 0.25]])
    target = torch.tensor([2, 0, 1, 0])
    top1, top2 = compute_accuracy(output, target, topk=(1, 2))
    assert top1.item() == pytest.approx(25.0)  # only sample 1
    assert top2.item() == pytest.approx(100.0)  # top-2 sets: {1,2} {0,1|2} {2,1} {1,0}
