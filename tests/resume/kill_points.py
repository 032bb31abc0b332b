"""Simulated kills at exact points: the k-th file rename (the moment an atomic write becomes visible) at the end of
a chosen epoch raises, so the disk holds what a SIGKILL there leaves: every earlier write whole, none later."""
import os


class SimulatedKill(BaseException):
    """Not an Exception: nothing in the code under test may catch it, as nothing catches a SIGKILL."""


def arm_kill_at_rename(monkeypatch, trainer, epoch, k):
    """Kill ``trainer`` at the ``k``-th rename during the end of ``epoch`` (1-based); returns the rename log."""
    real_replace = os.replace
    state = {"armed": False, "renames": []}

    def replace(src, dst, **kwargs):
        if state["armed"]:
            if len(state["renames"]) + 1 == k:
                state["killed_at"] = str(dst)
                raise SimulatedKill(str(dst))
            state["renames"].append(str(dst))
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    after_epoch = trainer.after_epoch

    def armed_after_epoch():
        state["armed"] = trainer.epoch + 1 == epoch
        after_epoch()
        state["armed"] = False

    trainer.after_epoch = armed_after_epoch
    return state
