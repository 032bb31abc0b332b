"""Dassl's ``DataManager``, ``DatasetWrapper`` and ``build_data_loader`` (labeled data only, as CLIP prompt
learning needs: ``train_loader_u`` is always None)."""
import os

import torch
import torchvision.transforms as T
from tabulate import tabulate
from torch.utils.data import BatchSampler, DataLoader, Dataset

from dpl.engine import distributed
from dpl.engine.data.datasets import build_dataset
from dpl.engine.data.samplers import build_sampler
from dpl.engine.data.transforms import build_transform
from dpl.engine.utils.tools import read_image
from dpl.errors import DataError


class ImageReadError(DataError):
    """An image of a split cannot be read.

    DataLoader workers re-raise errors as ``type(error)(worker traceback text)``; keeping only the original
    one-line message lets ``train.py`` print it as one paragraph with any NUM_WORKERS.
    """

    def __init__(self, message):
        marker = f"{type(self).__module__}.{type(self).__qualname__}: "
        if "Traceback" in message and marker in message:
            message = message.rsplit(marker, 1)[1].strip()
        super().__init__(message)


def _cfg_get(node, key, default):
    return node[key] if key in node else default


def per_sample_seeds(cfg):
    """Whether training samples carry their own augmentation seeds: always in a data-parallel run (each process
    loads a slice of every batch, so the global-RNG stream of one process cannot be reproduced), else as
    DATALOADER.PER_SAMPLE_SEEDS says (default off: Dassl's stream, as the official code draws it)."""
    return distributed.is_distributed() or bool(_cfg_get(cfg.DATALOADER, "PER_SAMPLE_SEEDS", False))


def build_data_loader(cfg, sampler_type="SequentialSampler", data_source=None, batch_size=64, tfm=None,
                      is_train=True, dataset_wrapper=None, *, n_domain=0, n_ins=2):
    """A DataLoader over ``dataset_wrapper(cfg, data_source, transform=tfm, is_train=is_train)``.

    The last incomplete batch is dropped only in training and only when at least one full batch exists.
    """
    if not data_source:
        raise DataError(f"Dataset {cfg.DATASET.NAME}: a split handed to the data loader is empty")
    sampler = build_sampler(sampler_type, data_source=data_source, batch_size=batch_size, cfg=cfg,
                            n_domain=n_domain, n_ins=n_ins)
    batches = BatchSampler(sampler, batch_size, drop_last=is_train and len(data_source) >= batch_size)
    if is_train and per_sample_seeds(cfg):  # each sample's augmentation seeded: the same wherever it is loaded
        batches = distributed.SeededBatchSampler(batches)
    if distributed.is_distributed():  # this process's slice of every batch
        batches = distributed.ShardedBatchSampler(batches, batch_size, strict=is_train)
    wrapper = dataset_wrapper or DatasetWrapper
    use_cuda = torch.cuda.is_available() and _cfg_get(cfg, "USE_CUDA", True)
    return DataLoader(
        wrapper(cfg, data_source, transform=tfm, is_train=is_train),
        batch_sampler=batches,
        num_workers=cfg.DATALOADER.NUM_WORKERS,
        pin_memory=bool(use_cuda),
    )


class DatasetWrapper(Dataset):
    """Reads each Datum's image and returns Dassl's batch dict: img, label, domain, impath, index.

    ``transform``: None (the image resized to INPUT.SIZE, as a tensor), one transform, or a list (keys img,
    img2, ...). With DATALOADER.K_TRANSFORMS = k > 1 in training each key holds a list of k augmented views;
    DATALOADER.RETURN_IMG0 adds the untransformed image (resized to INPUT.SIZE) as img0.
    """

    def __init__(self, cfg, data_source, transform=None, is_train=False):
        self.cfg = cfg
        self.data_source = data_source
        self.transform = transform
        self.is_train = is_train
        self.dataset_name = cfg.DATASET.NAME
        self.k_tfm = _cfg_get(cfg.DATALOADER, "K_TRANSFORMS", 1) if is_train else 1
        self.return_img0 = _cfg_get(cfg.DATALOADER, "RETURN_IMG0", False)
        if self.k_tfm > 1 and transform is None:
            raise DataError("DATALOADER.K_TRANSFORMS > 1 needs a transform; none was given")
        self.to_tensor = T.Compose([T.Resize(tuple(cfg.INPUT.SIZE)), T.ToTensor()])

    def __len__(self):
        return len(self.data_source)

    def __getitem__(self, key):
        """``key``: an index, or ``(index, seed)`` from a training sampler: the sample's random augmentation then
        draws from a generator seeded by ``seed``, whichever worker or process loads it."""
        if isinstance(key, (tuple, list)):
            idx, seed = key
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                return self._item(idx)
        return self._item(key)

    def _item(self, idx):
        item = self.data_source[idx]
        output = {"label": item.label, "domain": item.domain, "impath": item.impath, "index": idx}
        img0 = self._read(item.impath, idx)
        if self.transform is None:
            output["img"] = self.to_tensor(img0)  # a tensor, so batches collate
        elif isinstance(self.transform, (list, tuple)):
            for i, tfm in enumerate(self.transform):
                output["img" if i == 0 else f"img{i + 1}"] = self._apply(tfm, img0)
        else:
            output["img"] = self._apply(self.transform, img0)
        if self.return_img0:
            output["img0"] = self.to_tensor(img0)
        return output

    def _read(self, impath, idx):
        if not os.path.exists(impath):
            raise ImageReadError(f"Image {impath} (dataset {self.dataset_name}, sample {idx}) does not exist; "
                            f"see DATASETS.md, section {self.dataset_name}")
        try:
            return read_image(impath, self.dataset_name)
        except DataError as e:
            raise ImageReadError(f"Image {impath} of dataset {self.dataset_name} could not be decoded "
                            f"({e.__cause__ or e}); replace the file or remove it from the split") from e

    def _apply(self, tfm, img0):
        views = [tfm(img0) for _ in range(self.k_tfm)]
        return views[0] if len(views) == 1 else views


def check_image_paths(dataset_name, splits):
    """DataError naming the first missing image (and how many are missing) over ``splits`` {name: [Datum]}."""
    missing, first = 0, None
    for split_name, items in splits.items():
        for item in items or []:
            if not os.path.isfile(item.impath):
                missing += 1
                first = first or (split_name, item.impath)
    if missing:
        raise DataError(f"Dataset {dataset_name}: {missing} image file(s) listed in the splits are missing; "
                        f"the first is {first[1]} (split {first[0]}); see DATASETS.md, section {dataset_name}.")


class DataManager:
    """Builds the dataset (``build_dataset``) and its loaders, as Dassl's DataManager does."""

    def __init__(self, cfg, custom_tfm_train=None, custom_tfm_test=None, dataset_wrapper=None):
        dataset = build_dataset(cfg)
        name = cfg.DATASET.NAME
        check_image_paths(name, {"train_x": dataset.train_x, "val": dataset.val, "test": dataset.test})

        tfm_train = custom_tfm_train if custom_tfm_train is not None else build_transform(cfg, is_train=True)
        tfm_test = custom_tfm_test if custom_tfm_test is not None else build_transform(cfg, is_train=False)
        loader = cfg.DATALOADER

        def build(split, node, tfm, is_train):
            return build_data_loader(cfg, sampler_type=node.SAMPLER, data_source=split,
                                     batch_size=node.BATCH_SIZE, tfm=tfm, is_train=is_train,
                                     dataset_wrapper=dataset_wrapper)

        self.train_loader_x = build(dataset.train_x, loader.TRAIN_X, tfm_train, True)
        self.train_loader_u = None
        self.val_loader = build(dataset.val, loader.TEST, tfm_test, False) if dataset.val else None
        self.test_loader = build(dataset.test, loader.TEST, tfm_test, False)

        self._num_classes = dataset.num_classes
        self._num_source_domains = len(_cfg_get(cfg.DATASET, "SOURCE_DOMAINS", []) or [])
        self._lab2cname = dataset.lab2cname
        self.dataset = dataset
        self.tfm_train = tfm_train
        self.tfm_test = tfm_test
        if _cfg_get(cfg, "VERBOSE", True):
            self.show_dataset_summary(cfg)

    num_classes = property(lambda self: self._num_classes)
    num_source_domains = property(lambda self: self._num_source_domains)
    lab2cname = property(lambda self: self._lab2cname)

    def show_dataset_summary(self, cfg):
        dataset = self.dataset
        table = [["Dataset", cfg.DATASET.NAME], ["# classes", f"{self.num_classes:,}"],
                 ["# train_x", f"{len(dataset.train_x):,}"]]
        if dataset.val:
            table.append(["# val", f"{len(dataset.val):,}"])
        table.append(["# test", f"{len(dataset.test):,}"])
        print(tabulate(table))
