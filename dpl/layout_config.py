"""The one place a trainer turns ``TRAINER.LAYOUT`` into a PromptLayout (or its hand design when unset)."""
from dpl.errors import ConfigError
from dpl.prompting import PromptLayout


def layout_from_cfg(cfg, clip_model, max_length, default=None):
    """``TRAINER.LAYOUT`` (a JSON path, ``uniform:K[:DEPTH]``, ``random:SEED`` or ``zero``) validated against
    the loaded model, or ``default`` (the method's hand design) when the key is empty."""
    spec = cfg.TRAINER.LAYOUT
    if not spec:
        return default
    layout = PromptLayout.from_spec(spec, clip_model.vision_layers, clip_model.text_layers,
                                    max_length=max_length, backbone=cfg.MODEL.BACKBONE.NAME)
    print(f"Prompt layout from TRAINER.LAYOUT={spec}: {layout.summary()}")
    return layout


def context_length_from_layout(cfg, clip_model, node):
    """The context length of a CoOp-style method (``TRAINER.<node>``): the layout's text length at layer 0 when
    ``TRAINER.LAYOUT`` is set, else the method's ``N_CTX`` (None when ``CTX_INIT`` decides it)."""
    c = cfg.TRAINER[node]
    layout = layout_from_cfg(cfg, clip_model, max_length=c.N_CTX)
    if layout is None:
        return None if c.CTX_INIT else c.N_CTX
    if layout.text[0] < 1:
        raise ConfigError(f"TRAINER.LAYOUT={cfg.TRAINER.LAYOUT} gives text layer 0 no prompt tokens; "
                          f"TRAINER.{node} needs at least one context token there")
    return layout.text[0]
