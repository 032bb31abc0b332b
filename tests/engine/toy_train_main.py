"""Runs train.py's CLI with the toy dataset and trainer of conftest.py registered and stand-in ``datasets`` /
``trainers`` packages (the real ones are tested end to end by tests/e2e). Usage: python toy_train_main.py ARGS"""
import os
import runpy
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # this checkout's dpl, whatever is pip-installed
sys.path.insert(0, HERE)
import conftest  # noqa: E402  (registers ToyEngineTrainerData and ToyLinearTrainer)

sys.modules["trainers"] = conftest.stub_trainers_module()
sys.modules["datasets"] = types.ModuleType("datasets")
sys.argv = [os.path.join(HERE, "..", "..", "train.py"), *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name="__main__")
