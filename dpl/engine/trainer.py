"""``dassl.engine.trainer``: TrainerBase (models, optimisers, checkpoints, the epoch loop), SimpleTrainer
(data, evaluator, test, checkpoint policy) and TrainerX (labeled-data training), with Dassl's names,
print lines and checkpoint layout. Checkpoints also carry the RNG states, so a resumed run ends where an
uninterrupted one would."""
import datetime
import os
import time
from collections import OrderedDict

import numpy as np
import torch
from tqdm import tqdm

from dpl.engine import distributed
from dpl.engine.evaluation import build_evaluator
from dpl.engine.registry import Registry
from dpl.engine.utils.dassl_compat import read_checkpoint
from dpl.engine.utils.logger import console_stream
from dpl.engine.utils.meters import AverageMeter, MetricMeter
from dpl.engine.utils import epoch_checkpoints
from dpl.engine.utils.torchtools import (BEST_NAME, POINTER_NAME, get_rng_state, load_checkpoint,
                                         restore_checkpoint, save_checkpoint)
from dpl.errors import CheckpointError, DivergedError

TRAINER_REGISTRY = Registry("TRAINER")


def _to_device(tensor, device):
    # Batches come from pinned memory when CUDA is used, so the copy can overlap with compute.
    return tensor.to(device, non_blocking=tensor.is_pinned())


def build_trainer(cfg):
    """The trainer registered as ``cfg.TRAINER.NAME`` (unknown name: UnknownNameError with a did-you-mean)."""
    if cfg.VERBOSE:
        print(f"Loading trainer: {cfg.TRAINER.NAME}")
    return TRAINER_REGISTRY.get(cfg.TRAINER.NAME)(cfg)


class TrainerBase:
    """Registered models with their optimiser and scheduler, checkpoints, and the epoch loop."""

    def __init__(self):
        self._models = OrderedDict()
        self._optims = OrderedDict()
        self._scheds = OrderedDict()
        self._writer = None
        # What identifies the run (dpl.runs.run_identity; train.py sets it): stored in every checkpoint.
        self.fingerprint = None
        # resume_check(checkpoint, path), run on every model's checkpoint before a resume and raising to refuse it
        # (train.py sets the run-identity check; the engine itself knows nothing of fingerprints). None: no check.
        self.resume_check = None

    # ---- models --------------------------------------------------------------------------------------
    def register_model(self, name="model", model=None, optim=None, sched=None):
        if self.__dict__.get("_models") is None:
            raise AttributeError("Cannot assign model before super().__init__() call")
        if name in self._models:
            raise KeyError(f'A model named "{name}" is already registered')
        if model is None:
            raise ValueError(f'register_model("{name}") got no model')
        self._models[name] = model
        self._optims[name] = optim
        self._scheds[name] = sched

    def get_model_names(self, names=None):
        all_names = list(self._models.keys())
        if names is None:
            return all_names
        names = names if isinstance(names, (list, tuple)) else [names]
        for name in names:
            if name not in all_names:
                raise KeyError(f'No model named "{name}"; registered: {", ".join(all_names)}')
        return list(names)

    def set_model_mode(self, mode="train", names=None):
        if mode not in ("train", "eval", "test"):
            raise KeyError(f'Model mode "{mode}"; expected train, eval or test')
        for name in self.get_model_names(names):
            self._models[name].train(mode == "train")

    def model_zero_grad(self, names=None):
        for name in self.get_model_names(names):
            if self._optims[name] is not None:
                self._optims[name].zero_grad()

    def detect_anomaly(self, loss):
        if not torch.isfinite(loss).all():
            raise DivergedError(self._divergence_message())

    def _divergence_message(self):
        where = ""
        if getattr(self, "num_batches", None) and getattr(self, "batch_idx", None) is not None:
            where = f" at epoch {self.epoch + 1}, batch {self.batch_idx + 1}/{self.num_batches}"
        try:
            lr = f" (learning rate {self.get_current_lr():.4g})"
        except (KeyError, IndexError, StopIteration):  # no optimizer registered yet
            lr = ""
        return (f"Loss is infinite or NaN!{where}{lr}: the training diverged, so no result is written. Lower OPTIM.LR, "
                "or try PREC fp32 / amp if the run is fp16; checkpoints of earlier epochs are kept.")

    def model_backward(self, loss):
        self.detect_anomaly(loss)
        loss.backward()

    def model_update(self, names=None):
        for name in self.get_model_names(names):
            if self._optims[name] is not None:
                self._optims[name].step()

    def model_backward_and_update(self, loss, names=None):
        self.model_zero_grad(names)
        self.model_backward(loss)
        self.sync_gradients(names)
        self.model_update(names)

    def sync_gradients(self, names=None):
        """In a data-parallel run, the gradients of models ``names`` over all processes' samples of this batch
        (``batch_count`` samples here, set by ``parse_batch_train``); nothing otherwise."""
        if not distributed.is_distributed():
            return
        params = [p for name in self.get_model_names(names) if self._optims[name] is not None
                  for group in self._optims[name].param_groups for p in group["params"]]
        distributed.sync_gradients(params, self.batch_count)

    def update_lr(self, names=None):
        for name in self.get_model_names(names):
            if self._scheds[name] is not None:
                self._scheds[name].step()

    def get_current_lr(self, names=None):
        names = self.get_model_names(names)
        for name in names:  # the first registered model with an optimiser
            if self._optims[name] is not None:
                return self._optims[name].param_groups[0]["lr"]
        return 0.0

    # ---- checkpoints ---------------------------------------------------------------------------------
    def save_model(self, epoch, directory, is_best=False, val_result=None, model_name=""):
        """``directory/<name>/model.pth.tar-<epoch+1>`` (or ``model_name``) for every registered model.

        An epoch's files are one unit: every model's file is written before any ``checkpoint`` pointer moves,
        so a run killed in between resumes every model from the same epoch (see ``epoch_checkpoints``). In a
        data-parallel run only the first process writes (every process holds the same weights)."""
        if not distributed.is_main():
            return
        rng_state = get_rng_state()
        extras = self.checkpoint_extras()
        names = self.get_model_names()
        for name in names:
            optim, sched = self._optims[name], self._scheds[name]
            state = {
                "state_dict": self._models[name].state_dict(),
                "epoch": epoch + 1,
                "optimizer": optim.state_dict() if optim is not None else None,
                "scheduler": sched.state_dict() if sched is not None else None,
                "val_result": val_result,
                "rng_state": rng_state,
                **extras,
            }
            if self.fingerprint is not None:
                state["fingerprint"] = self.fingerprint
            save_checkpoint(state, os.path.join(directory, name), is_best=is_best, model_name=model_name,
                            update_pointer=False)
        if not model_name:
            for name in names:
                epoch_checkpoints.write_pointer(os.path.join(directory, name), epoch + 1)

    def _has_checkpoints(self, directory):
        names = self.get_model_names()
        return bool(names) and epoch_checkpoints.has_any(directory, names)

    def resume_model_if_exist(self, directory):
        """Resume every registered model from ``directory``; return the epoch to start from (0: none found).

        Every model resumes from the same epoch: the newest of which all have a readable checkpoint."""
        names = self.get_model_names()
        if not directory or not self._has_checkpoints(directory):
            print("No checkpoint found, train from scratch")
            return 0
        epochs = epoch_checkpoints.complete_epochs(directory, names)
        if not epochs:
            found = {n: sorted(epoch_checkpoints.epoch_files(os.path.join(directory, n))) for n in names}
            print(f"WARNING: no epoch of which every model has a checkpoint in {directory} (epochs per model: "
                  f"{found}; a run killed while saving its first checkpoint); train from scratch")
            return 0
        print(f"Found checkpoint at {directory} (will resume training)")
        epoch, checkpoints = epoch_checkpoints.load_newest_readable(directory, names, epochs)
        for note in epoch_checkpoints.pointer_notes(directory, names, epoch):
            print(f"WARNING: {note}")
        self.check_resume(checkpoints, directory, epoch)
        for name in names:
            path = epoch_checkpoints.epoch_file(os.path.join(directory, name), epoch)
            print(f"Loading checkpoint from {path}")
            restore_checkpoint(checkpoints[name], path, self._models[name], self._optims[name], self._scheds[name])
        self.restore_checkpoint_extras(checkpoints[names[0]])
        print(f"Previous epoch: {epoch}")
        return epoch

    def check_resume(self, checkpoints, directory, epoch):
        """``resume_check`` on the checkpoint of every model ({name: checkpoint} of ``epoch``), not only the first:
        one model's folder may come from another run."""
        if self.resume_check is None:
            return
        for name in self.get_model_names():
            self.resume_check(checkpoints[name], epoch_checkpoints.epoch_file(os.path.join(directory, name), epoch))

    def checkpoint_extras(self):
        """Trainer state beyond models, optimisers and schedulers that a resume needs (e.g. the AMP grad
        scaler); stored in every model's checkpoint as plain types."""
        return {}

    def restore_checkpoint_extras(self, checkpoint):
        """Put back what ``checkpoint_extras`` saved (``checkpoint`` is the latest one of the first model)."""

    def _checkpoint_file(self, model_dir, epoch):
        path, note = epoch_checkpoints.checkpoint_to_evaluate(model_dir, epoch)
        if path is None:
            raise CheckpointError(f"No checkpoint in {model_dir}: neither {BEST_NAME} nor a {POINTER_NAME} "
                                  "file naming the latest epoch, nor any model.pth.tar-<epoch> file")
        if epoch is not None and not os.path.isfile(path):
            raise CheckpointError(f"Model not found at {path} ({epoch_checkpoints.kept_note(model_dir)})")
        if note:
            print(f"WARNING: {note}")
        return path

    def load_model(self, directory, epoch=None):
        """Load weights for evaluation: epoch ``epoch``, else the best model, else the latest one."""
        if not directory:
            print("Note that load_model() is skipped as no pretrained model is given")
            return
        directory = str(directory)
        if not os.path.isdir(directory):
            raise CheckpointError(f"Model directory {directory} does not exist")
        for name in self.get_model_names():
            model_dir = os.path.join(directory, name)
            foreign = self.foreign_model_dir(directory, name)  # another codebase names the model its own way
            if not os.path.isdir(model_dir) and foreign and os.path.isdir(foreign):
                model_dir = foreign
            if not os.path.isdir(model_dir):
                also = f" or {foreign}" if foreign else ""
                raise CheckpointError(f"No checkpoints of model '{name}' in {directory} (expected {model_dir}{also})")
            path = self._checkpoint_file(model_dir, epoch)
            if not os.path.isfile(path):
                raise CheckpointError(f"Model not found at {path}")
            # ours, or one Dassl wrote (its pickled scheduler objects through an allow-list; --trust-checkpoint)
            checkpoint = read_checkpoint(path, trust=getattr(self, "trust_checkpoint", False))
            val_result = checkpoint.get("val_result")
            shown = f"{val_result:.1f}" if isinstance(val_result, (int, float)) else "n/a"
            print(f'Loading weights to {name} from "{path}" (epoch = {checkpoint.get("epoch")}, val_result = {shown})')
            self.load_state_into(name, checkpoint, path)

    def foreign_model_dir(self, directory, name):
        """Where another codebase saved model ``name`` under ``directory`` when it is not ``directory/name``."""
        return None

    def load_state_into(self, name, checkpoint, path):
        """Put a checkpoint's weights into model ``name`` (override to drop or rename keys)."""
        try:
            self._models[name].load_state_dict(checkpoint["state_dict"])
        except (KeyError, RuntimeError) as e:
            raise CheckpointError(f"Checkpoint {path} does not match model '{name}': {e}") from e

    # ---- tensorboard (optional) ----------------------------------------------------------------------
    def init_writer(self, log_dir):
        if self._writer is not None or not getattr(self, "cfg", None) or not self.cfg.TRAIN.get("TENSORBOARD", False):
            return
        if not distributed.is_main():
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print("Tensorboard is not installed; no summary is written")
            return
        self._writer = SummaryWriter(log_dir=log_dir)

    def close_writer(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def write_scalar(self, tag, scalar_value, global_step=None):
        if self._writer is not None:
            self._writer.add_scalar(tag, scalar_value, global_step)

    # ---- the loop ------------------------------------------------------------------------------------
    def train(self, start_epoch, max_epoch):
        self.start_epoch = start_epoch
        self.max_epoch = max_epoch
        self.before_train()
        for self.epoch in range(self.start_epoch, self.max_epoch):
            self.before_epoch()
            self.run_epoch()
            self.after_epoch()
        self.after_train()

    def before_train(self):
        pass

    def after_train(self):
        pass

    def before_epoch(self):
        pass

    def after_epoch(self):
        pass

    def run_epoch(self):
        raise NotImplementedError

    def test(self):
        raise NotImplementedError

    def parse_batch_train(self, batch):
        raise NotImplementedError

    def parse_batch_test(self, batch):
        raise NotImplementedError

    def forward_backward(self, batch):
        raise NotImplementedError

    def model_inference(self, input):
        raise NotImplementedError


class SimpleTrainer(TrainerBase):
    """A trainer with one data manager, an evaluator and Dassl's checkpoint / test policy."""

    def __init__(self, cfg):
        super().__init__()
        self.check_cfg(cfg)
        cuda = torch.cuda.is_available() and cfg.USE_CUDA
        # one GPU per process in a data-parallel run (torchrun's LOCAL_RANK)
        self.device = torch.device(f"cuda:{distributed.local_rank()}" if cuda and distributed.is_distributed()
                                   else "cuda" if cuda else "cpu")
        self.start_epoch = self.epoch = 0
        self.max_epoch = cfg.OPTIM.MAX_EPOCH
        self.output_dir = cfg.OUTPUT_DIR
        self.cfg = cfg
        self.last_results = {}
        with distributed.main_first():  # a dataset that generates or caches files does so once
            self.build_data_loader()
        self.build_model()
        self.evaluator = build_evaluator(cfg, lab2cname=self.lab2cname)
        self.best_result = -np.inf

    def check_cfg(self, cfg):
        """Hook: reject a config this trainer cannot run (called first in __init__)."""

    def build_data_loader(self):
        from dpl.engine.data import DataManager  # the data package imports transforms etc.; load on use

        self.dm = DataManager(self.cfg)
        self.train_loader_x = self.dm.train_loader_x
        self.train_loader_u = getattr(self.dm, "train_loader_u", None)
        self.val_loader = self.dm.val_loader
        self.test_loader = self.dm.test_loader
        self.num_classes = self.dm.num_classes
        self.num_source_domains = getattr(self.dm, "num_source_domains", 1)
        self.lab2cname = self.dm.lab2cname

    def build_model(self):
        raise NotImplementedError

    def train(self):
        super().train(self.start_epoch, self.max_epoch)

    def before_train(self):
        directory = self.cfg.RESUME or self.cfg.OUTPUT_DIR
        if self.cfg.RESUME and not self._has_checkpoints(self.cfg.RESUME):
            # Dassl silently starts from scratch here; an explicit --resume that finds nothing is a mistake
            raise CheckpointError(f"--resume {self.cfg.RESUME}: no checkpoints there (expected "
                                  f"<dir>/<model>/model.pth.tar-<epoch> for models {', '.join(self.get_model_names())})")
        self.start_epoch = self.resume_model_if_exist(directory)
        if self.start_epoch > 0:
            self._restore_best_result(directory)
        self.init_writer(os.path.join(self.output_dir, "tensorboard"))
        self.time_start = time.time()

    def _restore_best_result(self, directory):
        # best_val compares each epoch with the best so far; after a resume that is model-best's val_result
        if self.cfg.TEST.FINAL_MODEL != "best_val":
            return
        for name in self.get_model_names():
            best = os.path.join(directory, name, BEST_NAME)
            if os.path.isfile(best):
                val_result = load_checkpoint(best).get("val_result")
                if val_result is not None:
                    self.best_result = float(val_result)
                return

    def after_train(self):
        print("Finish training")
        if not self.cfg.TEST.NO_TEST:
            if self.cfg.TEST.FINAL_MODEL == "best_val":
                print("Deploy the model with the best val performance")
                self.load_model(self.output_dir)
            else:
                print("Deploy the last-epoch model")
            self.test()
        elapsed = str(datetime.timedelta(seconds=round(time.time() - self.time_start)))
        print(f"Elapsed: {elapsed}")
        self.close_writer()

    def after_epoch(self):
        last_epoch = (self.epoch + 1) == self.max_epoch
        freq = self.cfg.TRAIN.CHECKPOINT_FREQ
        meet_checkpoint_freq = freq > 0 and (self.epoch + 1) % freq == 0
        if not self.cfg.TEST.NO_TEST and self.cfg.TEST.FINAL_MODEL == "best_val":
            curr_result = self.test(split="val")
            if curr_result > self.best_result:
                self.best_result = curr_result
                self.save_model(self.epoch, self.output_dir, val_result=curr_result, model_name=BEST_NAME)
        if meet_checkpoint_freq or last_epoch:
            self.save_model(self.epoch, self.output_dir)
            if distributed.is_main():
                epoch_checkpoints.prune(self.output_dir, self.get_model_names(),
                                        self.cfg.TRAIN.get("CHECKPOINT_KEEP", 0))

    def before_test(self):
        """Hook run once per evaluation, after eval mode is set (e.g. compute class text features)."""

    @torch.no_grad()
    def test(self, split=None):
        self.set_model_mode("eval")
        self.evaluator.reset()
        self.before_test()
        split = split or self.cfg.TEST.SPLIT
        if split == "val" and self.val_loader is not None:
            data_loader = self.val_loader
        else:
            split = "test"  # Dassl falls back to test when there is no val set
            data_loader = self.test_loader
        print(f"Evaluate on the *{split}* set")
        for batch in tqdm(data_loader, file=console_stream(), dynamic_ncols=True):
            input, label = self.parse_batch_test(batch)
            output = self.model_inference(input)
            self.evaluator.process(output, label)
        self.evaluator.gather()  # a data-parallel run: every process's predictions, before any metric
        results = self.evaluator.evaluate()
        for k, v in results.items():
            self.write_scalar(f"{split}/{k}", v, self.epoch)
        self.last_results = dict(results)
        return list(results.values())[0]

    def model_inference(self, input):
        return self.model(input)

    def parse_batch_test(self, batch):
        return _to_device(batch["img"], self.device), _to_device(batch["label"], self.device)

class TrainerX(SimpleTrainer):
    """Trains on labeled data only (``train_loader_x``), printing Dassl's progress line."""

    def run_epoch(self):
        self.set_model_mode("train")
        losses = MetricMeter()
        batch_time = AverageMeter()
        data_time = AverageMeter()
        self.num_batches = len(self.train_loader_x)
        print_freq = self.cfg.TRAIN.PRINT_FREQ
        end = time.time()
        for self.batch_idx, batch in enumerate(self.train_loader_x):
            data_time.update(time.time() - end)
            loss_summary = self.forward_backward(batch)
            batch_time.update(time.time() - end)
            losses.update(loss_summary)

            meet_freq = (self.batch_idx + 1) % print_freq == 0
            only_few_batches = self.num_batches < print_freq
            if meet_freq or only_few_batches:
                remaining = self.num_batches - self.batch_idx - 1
                remaining += (self.max_epoch - self.epoch - 1) * self.num_batches
                eta = str(datetime.timedelta(seconds=int(batch_time.avg * remaining)))
                print(" ".join([
                    f"epoch [{self.epoch + 1}/{self.max_epoch}]",
                    f"batch [{self.batch_idx + 1}/{self.num_batches}]",
                    f"time {batch_time.val:.3f} ({batch_time.avg:.3f})",
                    f"data {data_time.val:.3f} ({data_time.avg:.3f})",
                    f"{losses}",
                    f"lr {self.get_current_lr():.4e}",
                    f"eta {eta}",
                ]), flush=True)

            n_iter = self.epoch * self.num_batches + self.batch_idx
            for name, meter in losses.meters.items():
                self.write_scalar("train/" + name, meter.avg, n_iter)
            self.write_scalar("train/lr", self.get_current_lr(), n_iter)
            end = time.time()

    def parse_batch_train(self, batch):
        self.batch_count = len(batch["label"])  # this process's share of the batch (data-parallel runs)
        return _to_device(batch["img"], self.device), _to_device(batch["label"], self.device)

