"""Refuse to report a result computed from weights that are not numbers: a NaN or inf weight still gives an argmax,
hence an accuracy, which would be recorded as a finished run."""
import torch

from dpl.errors import CheckpointError


def first_non_finite(models):
    """``(model name, tensor name, count)`` of the first tensor with NaN/inf values in ``{name: nn.Module}``, or None."""
    for model_name, model in models.items():
        for key, tensor in model.state_dict().items():
            if torch.is_tensor(tensor) and tensor.is_floating_point():
                bad = int((~torch.isfinite(tensor)).sum())
                if bad:
                    return model_name, key, bad
    return None


def refuse_non_finite_weights(models, what):
    """CheckpointError naming the model and tensor when any weight of ``models`` is NaN or inf; ``what`` is the
    result that is therefore not written."""
    found = first_non_finite(models)
    if found is None:
        return
    model_name, key, bad = found
    raise CheckpointError(f"The weights of {model_name} are not numbers: {key} has {bad} NaN/inf values (a diverged "
                          f"run, or a damaged checkpoint). {what} is not written, since an accuracy computed from "
                          "them means nothing; retrain (e.g. with a lower OPTIM.LR) or evaluate another checkpoint.")
