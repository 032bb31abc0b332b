"""The classification evaluator and the ``=> result`` block every parse script reads (Dassl's format)."""
import os
from collections import Counter, OrderedDict, defaultdict

import torch

from dpl.engine import distributed
from dpl.file_io import atomic_torch_save

from .build import EVALUATOR_REGISTRY


def macro_f1_score(y_true, y_pred):
    """Mean F1 over the labels present in ``y_true`` (what Dassl gets from sklearn with
    ``labels=np.unique(y_true)``); a label never predicted correctly scores 0."""
    labels = sorted(set(y_true))
    if not labels:
        return 0.0
    tp, n_true, n_pred = Counter(), Counter(y_true), Counter(y_pred)
    for t, p in zip(y_true, y_pred):
        if t == p:
            tp[t] += 1
    scores = []
    for c in labels:
        fp, fn = n_pred[c] - tp[c], n_true[c] - tp[c]
        denom = 2 * tp[c] + fp + fn
        scores.append(2 * tp[c] / denom if denom else 0.0)
    return sum(scores) / len(scores)


def confusion_matrix_normalized(y_true, y_pred):
    """Rows = true labels, normalized to sum 1 (sklearn's ``normalize="true"`` over the labels seen)."""
    labels = sorted(set(y_true) | set(y_pred))
    index = {c: i for i, c in enumerate(labels)}
    cmat = torch.zeros(len(labels), len(labels), dtype=torch.float64)
    for t, p in zip(y_true, y_pred):
        cmat[index[t], index[p]] += 1
    return (cmat / cmat.sum(1, keepdim=True).clamp(min=1)).numpy()


class EvaluatorBase:
    def __init__(self, cfg):
        self.cfg = cfg

    def reset(self):
        raise NotImplementedError

    def process(self, mo, gt):
        raise NotImplementedError

    def evaluate(self):
        raise NotImplementedError

    def gather(self):
        """A data-parallel run: take in every process's predictions, so ``evaluate`` sees the whole split."""


@EVALUATOR_REGISTRY.register()
class Classification(EvaluatorBase):
    """Accuracy, error and macro F1 (in percent); per-class accuracy with TEST.PER_CLASS_RESULT."""

    def __init__(self, cfg, lab2cname=None, **kwargs):
        super().__init__(cfg)
        self._lab2cname = lab2cname
        self._per_class = bool(cfg.TEST.PER_CLASS_RESULT)
        self.reset()

    def reset(self):
        self._correct = 0
        self._total = 0
        self._y_true = []
        self._y_pred = []
        self._per_class_res = defaultdict(list) if self._per_class else None

    def gather(self):
        parts = distributed.gather_objects((self._correct, self._total, self._y_true, self._y_pred,
                                            dict(self._per_class_res) if self._per_class_res is not None else None))
        if len(parts) == 1:
            return
        self.reset()
        for correct, total, y_true, y_pred, per_class in parts:
            self._correct += correct
            self._total += total
            self._y_true.extend(y_true)
            self._y_pred.extend(y_pred)
            for label, hits in (per_class or {}).items():
                self._per_class_res[label].extend(hits)

    def process(self, mo, gt):
        # mo: logits (B, C); gt: labels (B,)
        pred = mo.max(1)[1]
        matches = pred.eq(gt).float()
        self._correct += int(matches.sum().item())
        self._total += gt.shape[0]
        true, pred = gt.cpu().tolist(), pred.cpu().tolist()
        self._y_true.extend(true)
        self._y_pred.extend(pred)
        if self._per_class_res is not None:
            for t, p in zip(true, pred):
                self._per_class_res[t].append(int(t == p))

    def evaluate(self):
        results = OrderedDict()
        acc = 100.0 * self._correct / max(self._total, 1)
        err = 100.0 - acc
        macro_f1 = 100.0 * macro_f1_score(self._y_true, self._y_pred)
        # The first value is what trainer.test() returns.
        results["accuracy"] = acc
        results["error_rate"] = err
        results["macro_f1"] = macro_f1
        print(
            "=> result\n"
            f"* total: {self._total:,}\n"
            f"* correct: {self._correct:,}\n"
            f"* accuracy: {acc:.1f}%\n"
            f"* error: {err:.1f}%\n"
            f"* macro_f1: {macro_f1:.1f}%"
        )
        if self._per_class_res is not None:
            print("=> per-class result")
            accs = []
            for label in sorted(self._per_class_res):
                res = self._per_class_res[label]
                correct, total = sum(res), len(res)
                acc_c = 100.0 * correct / total
                accs.append(acc_c)
                classname = self._lab2cname.get(label, str(label)) if self._lab2cname else str(label)
                print(f"* class: {label} ({classname})\ttotal: {total:,}\tcorrect: {correct:,}\tacc: {acc_c:.1f}%")
            mean_acc = sum(accs) / len(accs) if accs else 0.0
            print(f"* average: {mean_acc:.1f}%")
            results["perclass_accuracy"] = mean_acc
        if self.cfg.TEST.COMPUTE_CMAT and distributed.is_main():
            save_path = os.path.join(self.cfg.OUTPUT_DIR, "cmat.pt")
            atomic_torch_save(confusion_matrix_normalized(self._y_true, self._y_pred), save_path)
            print(f"Confusion matrix is saved to {save_path}")
        return results
