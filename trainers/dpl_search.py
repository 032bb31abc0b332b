"""DPL search stage: a frozen CLIP whose every attention layer mixes all prompt lengths 0..N, weighted by
softmax(alpha); bilevel first-order search (alphas on validation batches with Adam, prompts on training
batches with the engine's SGD). Writes ``alphas/epoch_<e>.json`` each epoch, then ``layout.png`` and
``layout.json`` (last: it marks the search as done).

Shares ``TRAINER.DPL`` with the train stage (trainers/dpl.py).
"""
import collections
import os

import torch
import torch.nn.functional as F

from dpl.engine import TRAINER_REGISTRY, distributed
from dpl.errors import ConfigError
from dpl.prompting import Architecture, SearchSpace, supernet_prompts
from dpl.prompting.supernet import constant, draw_search_init
from dpl.search import diagnose, load_alpha_history, plot_search, save_alpha_probabilities
from dpl.method.trainer_base import PromptTrainer

from .dpl import FixedTextLearner

LAYOUT_FILE = "layout.json"
PLOT_FILE = "layout.png"


class SearchLearner(FixedTextLearner):
    """Supernet: ``prompt_learner`` = candidate prompts (SearchSpace), ``architecture`` = the alphas."""

    def __init__(self, clip_model, classnames, max_length, ctx_init="default", std=0.02, naive=False,
                 recompute=False, init="official"):
        super().__init__(clip_model, classnames, ctx_init, "TRAINER.DPL.SEARCH_CTX_INIT")
        self.prompt_learner = SearchSpace(clip_model.vision_layers, clip_model.text_layers, clip_model.vision_width,
                                          clip_model.text_width, max_length, std=std, init=init, draw=False)
        self.architecture = Architecture(clip_model.vision_layers, clip_model.text_layers, max_length, draw=False)
        draw_search_init(self.prompt_learner, self.architecture)  # the official draw order: same values per seed
        self.naive, self.recompute = naive, recompute

    def _prompts(self, branch):
        return supernet_prompts(self.prompt_learner, self.architecture, branch, naive=self.naive,
                                recompute=self.recompute)

    def vision_prompts(self):
        return self._prompts("vision")

    def text_prompts(self):
        return self._prompts("text")


@TRAINER_REGISTRY.register()
class DPLSearch(PromptTrainer):
    CONFIG_NODE = "DPL"

    def build_learner(self, cfg, classnames, clip_model):
        c = self.method_cfg
        if self.dm.val_loader is None:
            raise ConfigError(f"Dataset {cfg.DATASET.NAME} has no validation split; the DPL search updates its "
                              "alphas on validation batches (use a dataset with a val split)")
        self._refuse_uneven_cycle(cfg)
        print(f"Search candidates: {c.SEARCH_INIT} initialisation; alpha steps on the "
              f"{'first validation batch every step' if c.ALPHA_BATCHES == 'first' else 'validation batches in turn'}")
        return SearchLearner(clip_model, classnames, c.MAX_LENGTH, c.SEARCH_CTX_INIT, c.PROMPT_STD, c.NAIVE_SUPERNET,
                             c.SUPERNET_RECOMPUTE, c.SEARCH_INIT)

    def _refuse_uneven_cycle(self, cfg):
        """Data-parallel ranks take slices of each val batch; an incomplete last one is split (or skipped by a rank)
        in a way one process does not reproduce, so cycling through it would change the alphas and the layout."""
        if self.method_cfg.ALPHA_BATCHES != "cycle" or not distributed.is_distributed():
            return
        size, batch = len(self.dm.dataset.val), cfg.DATALOADER.TEST.BATCH_SIZE
        if size % batch:
            raise ConfigError(f"TRAINER.DPL.ALPHA_BATCHES cycle with {distributed.world_size()} data-parallel "
                              f"processes needs full validation batches, but the {size} validation images leave a "
                              f"last batch of {size % batch} (DATALOADER.TEST.BATCH_SIZE {batch}): its split over "
                              "the processes would not reproduce one process's search. Use ALPHA_BATCHES first, a "
                              f"batch size dividing {size}, or one process.")

    def extra_models(self):
        c = self.method_cfg
        arch = self.model.architecture
        optim = torch.optim.Adam(arch.parameters(), lr=c.ALPHA_LR, betas=tuple(c.ALPHA_BETAS),
                                 weight_decay=c.ALPHA_WEIGHT_DECAY, foreach=True)  # = the per-tensor loop, fewer ops
        return [("architecture", arch, optim, None)]

    # ---- validation batches for the alpha step ------------------------------------------------------
    def _val_position(self):
        """Global index of the next alpha step's val batch, so a resumed run draws the same batches."""
        warmup = self.method_cfg.ALPHA_WARMUP_EPOCHS
        steps = max(self.epoch - warmup, 0) * self.num_batches + self.batch_idx
        return steps % len(self.dm.val_loader)

    def _fresh_val_iter(self):
        # A DataLoader iterator draws its base seed from the global RNG; keep that draw out of the global
        # stream so the training shuffle (and a resumed run) does not depend on when the val loader restarts.
        with torch.random.fork_rng(devices=[]):
            return iter(self.dm.val_loader)

    def next_val_batch(self):
        """The validation batch of this alpha step (``ALPHA_BATCHES``), logged in ``alpha_batch_log``."""
        batch = self._first_val_batch() if self.method_cfg.ALPHA_BATCHES == "first" else self._cycled_val_batch()
        log = getattr(self, "alpha_batch_log", None)
        if log is None:
            log = self.alpha_batch_log = collections.deque(maxlen=1000)
        log.append(batch["index"].tolist() if "index" in batch else batch.get("impath"))
        return batch

    def _first_val_batch(self):
        """The official behaviour: every alpha step takes the first batch of a freshly created val iterator, i.e.
        the same first images. That batch is read once and kept; creating an iterator also draws its base seed
        from the global torch RNG, so that one draw is made every step, as the official code makes it."""
        if getattr(self, "_first_batch", None) is None:
            self._first_batch = next(self._fresh_val_iter())
        torch.empty((), dtype=torch.int64).random_()  # what iter(DataLoader) draws
        return self._first_batch

    def _cycled_val_batch(self):
        """A new validation batch every call, cycling through the val loader (one persistent iterator)."""
        want = self._val_position()
        if getattr(self, "_val_iter", None) is None or self._val_cursor != want:
            self._val_iter, self._val_cursor = self._fresh_val_iter(), 0
            for _ in range(want):  # only after a resume: skip to where the interrupted run was
                next(self._val_iter)
                self._val_cursor += 1
        try:
            batch = next(self._val_iter)
        except StopIteration:
            self._val_iter, self._val_cursor = self._fresh_val_iter(), 0
            batch = next(self._val_iter)
        self._val_cursor = (self._val_cursor + 1) % len(self.dm.val_loader)
        return batch

    # ---- one training step --------------------------------------------------------------------------
    def forward_backward(self, batch):
        # Each pass builds gradients only for the model its step updates: the official step also computes the
        # other model's and never uses them (they are zeroed before that model's own step), so the updates are
        # the same and every layer's backward has fewer operators to run.
        summary = {}
        if self.epoch >= self.method_cfg.ALPHA_WARMUP_EPOCHS:
            image, label = self.parse_batch_train(self.next_val_batch())
            with self.autocast(), constant(self.model.prompt_learner):
                loss_alpha = F.cross_entropy(self.model(image).float(), label)
            self.backward_and_update(loss_alpha, names=["architecture"])
            summary["loss_alpha"] = loss_alpha.item()
        with constant(self.model.architecture):
            summary.update(super().forward_backward(batch))  # the prompt step: PromptTrainer's train step
        return summary

    # ---- per epoch / end of search ------------------------------------------------------------------
    def after_epoch(self):
        # The epoch's alphas file first, its checkpoint after: a run killed in between redoes the epoch and
        # rewrites the file, while the reverse order would resume past an epoch whose file was never written.
        probs = self.model.architecture.probabilities()
        if distributed.is_main():
            save_alpha_probabilities(self.output_dir, self.epoch + 1, probs)
        super().after_epoch()
        for branch, p in probs.items():
            length = p.argmax(dim=-1)  # ties to the shortest length, as the layout (derive_layout) takes them
            conf = p.gather(-1, length[:, None])[:, 0]
            cells = " ".join(f"{k}({c:.2f})" for k, c in zip(length.tolist(), conf.tolist()))
            print(f"epoch {self.epoch + 1} {branch} layout (p): {cells}")

    def after_train(self):
        self.finish_search()
        super().after_train()

    def finish_search(self):
        c = self.method_cfg
        arch = self.model.architecture
        probs = arch.probabilities()
        layout = arch.derive_layout(backbone=self.cfg.MODEL.BACKBONE.NAME, source=self.output_dir)
        if self.fingerprint is not None:  # what the scripts compare before they reuse this search
            layout.extra["fingerprint"] = self.fingerprint
        report = diagnose(probs, c.COLLAPSE_ZERO_FRACTION, c.UNDECIDED_MARGIN)
        print(f"Searched layout: {layout.summary()}")
        for line in report.lines():
            print(line)
        if not distributed.is_main():  # a data-parallel run: the first process writes the search's files
            return layout
        d = self.cfg.DATASET
        title = (f"DPL search: {d.NAME}{f' ({d.FOLDER})' if d.FOLDER else ''}, {self.cfg.MODEL.BACKBONE.NAME}, "
                 f"{d.NUM_SHOTS} shots, seed {self.cfg.SEED}")
        plot_search({b: p.float().cpu().numpy() for b, p in probs.items()}, load_alpha_history(self.output_dir),
                    os.path.join(self.output_dir, PLOT_FILE), title=title, notes=report.warnings)
        path = os.path.join(self.output_dir, LAYOUT_FILE)
        layout.save(path)  # last: its presence marks the search as done
        print(f"Layout saved to {path}")
        return layout
