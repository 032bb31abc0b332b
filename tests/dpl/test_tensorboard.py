"""README: ``TRAIN.TENSORBOARD True`` writes TensorBoard scalars (extra ``[tensorboard]``). The writer is replaced by a
recorder standing in for ``torch.utils.tensorboard`` (not a test dependency), so the test sees what would be written."""
import sys
import types

from trainer_harness import FAST, build_as_train_py


class RecordingWriter:
    written = []

    def __init__(self, log_dir):
        self.log_dir = log_dir

    def add_scalar(self, tag, value, step=None):
        RecordingWriter.written.append((self.log_dir, tag, float(value), step))

    def close(self):
        pass


def test_tensorboard_gets_the_training_scalars_and_the_test_metrics(data_root, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=RecordingWriter))
    RecordingWriter.written = []
    trainer = build_as_train_py("CoOp", "CoOp/vit_b16_ep50.yaml", data_root, str(tmp_path),
                                [*FAST, "TRAIN.TENSORBOARD", True, "TRAIN.PRINT_FREQ", 1])
    trainer.train()
    tags = {tag for _, tag, _, _ in RecordingWriter.written}
    assert {"train/loss", "train/acc", "train/lr", "test/accuracy"} <= tags, tags
    assert {d for d, _, _, _ in RecordingWriter.written} == {str(tmp_path / "tensorboard")}
    accuracy = [v for _, tag, v, _ in RecordingWriter.written if tag == "test/accuracy"]
    assert accuracy == [trainer.last_results["accuracy"]]


def test_without_the_flag_nothing_is_written(data_root, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=RecordingWriter))
    RecordingWriter.written = []
    build_as_train_py("CoOp", "CoOp/vit_b16_ep50.yaml", data_root, str(tmp_path), FAST).train()
    assert RecordingWriter.written == []
