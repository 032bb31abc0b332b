"""Checkpoints written by the official codebases (CoOp, CoCoOp, MaPLe, IVLP / VPT, PromptSRC, the official DPL) onto
this project's learners.

Each trainer that can read them declares an ``OfficialCheckpoint``: the Dassl model name the official trainer
registered (the sub-folder of ``--model-dir``) and rules from its parameter names to the names of this project's
``prompt_learner``. Several official trainers registered the whole CLIP wrapper, so their files also hold the frozen
CLIP weights and the class-name token buffers: those names are recognised and skipped (the frozen CLIP is this run's
own). Anything else that maps nowhere, or a learner parameter that nothing maps to, is an error listing the names.
"""
import re

from dpl.errors import CheckpointError

# Frozen pieces the official trainers save along with the prompts: CLIP's towers and logit scale (wrapper-level
# registration) and the token embeddings of the class prompts (rebuilt here from the class names).
FROZEN_IN_WRAPPERS = (r"image_encoder\..*", r"text_encoder\..*", r"logit_scale")
CLASS_TOKEN_BUFFERS = (r"(prompt_learner\.)?token_prefix", r"(prompt_learner\.)?token_suffix")
# The official trainers train every parameter whose name holds "VPT": such a name is never skipped as frozen.
LEARNED_MARKER = "VPT"


def next_layer(template):
    """A rule target for official lists that start at layer 1 (MaPLe's deep prompt i belongs to layer i + 1):
    ``template`` is formatted with ``layer`` and the match's other groups (``g2``, ...)."""
    return lambda m: template.format(layer=int(m.group(1)) + 1, **{f"g{i}": g for i, g in enumerate(m.groups(), 1)})


class OfficialCheckpoint:
    """``codebase``: who wrote it (for messages); ``folder``: the Dassl model name (sub-folder of the model dir);
    ``rules``: ``(official regex, our name)`` pairs, our name a ``re`` template (``\\1``) or a callable of the match;
    ``ignored``: regexes of names skipped on purpose;
    ``skip_empty``: drop zero-length prompts (the official DPL keeps a (0, width) tensor for length-0 layers)."""

    def __init__(self, codebase, folder, rules, ignored=(), skip_empty=False):
        self.codebase, self.folder, self.skip_empty = codebase, folder, skip_empty
        self.rules = [(re.compile(pattern + r"$"), target) for pattern, target in rules]
        self.ignored = [re.compile(pattern + r"$") for pattern in ignored]

    def our_name(self, name):
        for pattern, target in self.rules:
            m = pattern.match(name)
            if m:
                return target(m) if callable(target) else m.expand(target)
        return None

    def is_ignored(self, name):
        return LEARNED_MARKER not in name and any(p.match(name) for p in self.ignored)


def _strip_module(state):
    return {(k[7:] if k.startswith("module.") else k): v for k, v in state.items()}


def _lengths(names_shapes):
    """Prompt lengths per branch and layer of names like ``vision.3`` / ``layers.text.1``, for messages."""
    out = {}
    for name, shape in names_shapes:
        m = re.search(r"(?:^|\.)(vision|text)\.(\d+)$", name)
        if m and shape:
            out.setdefault(m.group(1), {})[int(m.group(2))] = int(shape[0])
    return "; ".join(f"{b} " + ", ".join(f"layer {l}: {k}" for l, k in sorted(v.items())) for b, v in sorted(out.items()))


def is_native(state, module):
    """Whether ``state`` uses this project's names for ``module`` (then no translation is needed)."""
    return set(_strip_module(state)) <= set(module.state_dict())


def learner_state(official, state, module, path):
    """``state`` (official names) as a state dict of ``module`` (our names), checked name by name and shape by shape."""
    ours = module.state_dict()
    mapped, unexpected, origin = {}, [], {}
    skipped = 0
    for name, value in _strip_module(state).items():
        target = official.our_name(name)
        if target is None:
            if official.is_ignored(name):
                skipped += 1
            else:
                unexpected.append(name)
            continue
        if official.skip_empty and value.dim() >= 1 and value.shape[0] == 0:
            continue
        if target not in ours:
            unexpected.append(f"{name} (-> {target})")
            continue
        mapped[target], origin[target] = value, name
    missing = [k for k in ours if k not in mapped]
    wrong = [f"{origin[k]} {tuple(v.shape)} -> {k} {tuple(ours[k].shape)}" for k, v in mapped.items()
             if tuple(v.shape) != tuple(ours[k].shape)]
    if unexpected or missing or wrong:
        parts = []
        if unexpected:
            parts.append(f"unexpected names (nothing in this learner to put them in): {', '.join(unexpected)}")
        if missing:
            parts.append(f"missing names (this learner's, found in no official name): {', '.join(missing)}")
        if wrong:
            parts.append(f"shapes that differ: {', '.join(wrong)}")
        found = _lengths([(official.our_name(n) or n, tuple(v.shape)) for n, v in _strip_module(state).items()])
        wanted = _lengths([(k, tuple(v.shape)) for k, v in ours.items()])
        layouts = f" Prompt lengths in the checkpoint: {found or 'none'}; in this learner: {wanted or 'none'}." \
            if found or wanted else ""
        raise CheckpointError(f"Checkpoint {path} ({official.codebase} layout) does not fit this learner: "
                              f"{'; '.join(parts)}.{layouts} Check the trainer config (context lengths, prompt depths, "
                              "TRAINER.LAYOUT) and the backbone against the run that wrote it.")
    print(f"Mapped {len(mapped)} tensors of the {official.codebase} checkpoint onto this learner "
          f"({skipped} frozen CLIP / class-token tensors skipped)")
    return {k: v.to(ours[k].dtype) for k, v in mapped.items()}
