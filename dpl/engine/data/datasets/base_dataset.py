"""``Datum`` and ``DatasetBase`` with Dassl's names and behaviour, plus the few-shot JSON cache."""
import math
import os
import random
import warnings
from collections import defaultdict

from dpl.engine.utils.io import read_json, remove_stale_temps, write_json


class Datum:
    """One sample: image path, label, domain, class name (Dassl's ``Datum``)."""

    __slots__ = ("_impath", "_label", "_domain", "_classname")

    def __init__(self, impath="", label=0, domain=0, classname=""):
        if not isinstance(impath, str):
            raise TypeError(f"Datum.impath must be a str, got {type(impath).__name__}")
        self._impath = impath
        self._label = label
        self._domain = domain
        self._classname = classname

    impath = property(lambda self: self._impath)
    label = property(lambda self: self._label)
    domain = property(lambda self: self._domain)
    classname = property(lambda self: self._classname)

    def __repr__(self):
        return f"Datum(impath={self._impath!r}, label={self._label}, classname={self._classname!r})"

    def __eq__(self, other):
        return isinstance(other, Datum) and (self._impath, self._label, self._domain, self._classname) == (
            other._impath, other._label, other._domain, other._classname)

    def __hash__(self):
        return hash((self._impath, self._label, self._domain, self._classname))


class DatasetBase:
    """A dataset = ``train_x`` (labeled train), optional ``train_u``, ``val`` and ``test`` lists of Datum."""

    dataset_dir = ""  # folder under the data root
    domains = []

    def __init__(self, train_x=None, train_u=None, val=None, test=None):
        self._train_x = train_x
        self._train_u = train_u
        self._val = val
        self._test = test
        self._num_classes = self.get_num_classes(train_x)
        self._lab2cname, self._classnames = self.get_lab2cname(train_x)

    train_x = property(lambda self: self._train_x)
    train_u = property(lambda self: self._train_u)
    val = property(lambda self: self._val)
    test = property(lambda self: self._test)
    lab2cname = property(lambda self: self._lab2cname)
    classnames = property(lambda self: self._classnames)
    num_classes = property(lambda self: self._num_classes)

    @staticmethod
    def get_num_classes(data_source):
        return max(item.label for item in data_source) + 1

    @staticmethod
    def get_lab2cname(data_source):
        container = {(item.label, item.classname) for item in data_source}
        mapping = {label: classname for label, classname in container}
        labels = sorted(mapping)
        return mapping, [mapping[label] for label in labels]

    @staticmethod
    def split_dataset_by_label(data_source):
        """Group by label; the dict keeps labels in first-seen order (this order drives few-shot sampling)."""
        output = defaultdict(list)
        for item in data_source:
            output[item.label].append(item)
        return output

    @staticmethod
    def split_dataset_by_domain(data_source):
        output = defaultdict(list)
        for item in data_source:
            output[item.domain].append(item)
        return output

    def generate_fewshot_dataset(self, *data_sources, num_shots=-1, repeat=False):
        """Dassl's rule: per label (first-seen order) ``random.sample(items, K)``, all items when fewer
        (or ``random.choices`` with ``repeat``). Consumes Python's global ``random`` state."""
        if num_shots < 1:
            return data_sources[0] if len(data_sources) == 1 else data_sources
        print(f"Creating a {num_shots}-shot dataset")
        output = []
        for data_source in data_sources:
            dataset = []
            for items in self.split_dataset_by_label(data_source).values():
                if len(items) >= num_shots:
                    dataset.extend(random.sample(items, num_shots))
                elif repeat:
                    dataset.extend(random.choices(items, k=num_shots))
                else:
                    dataset.extend(items)
            output.append(dataset)
        return output[0] if len(output) == 1 else output

    def load_or_sample_fewshot(self, train, val, num_shots, seed, cache_dir, image_dir):
        """Few-shot ``(train, val)`` as CoOp's datasets build them, cached as
        ``cache_dir/shot_{K}-seed_{S}.json`` (paths relative to ``image_dir``).

        Sampling re-seeds ``random`` with ``seed`` first, which equals Dassl's order (seed, then build
        the dataset, with nothing drawing from ``random`` in between). A cache that names a file or
        a class the dataset does not have is rebuilt with a warning; seeds < 0 are never cached.
        """
        if num_shots < 1:
            return train, val
        train, val = self._fewshot_from_cache_or_sample(train, val, num_shots, seed, cache_dir, image_dir)
        warn_short_classes(train, num_shots)
        return train, val

    def _fewshot_from_cache_or_sample(self, train, val, num_shots, seed, cache_dir, image_dir):
        path = os.path.join(cache_dir, f"shot_{num_shots}-seed_{seed}.json")
        if seed >= 0 and os.path.isfile(path):
            cached = self._read_fewshot_cache(path, {"train": (train, num_shots), "val": (val, min(num_shots, 4))},
                                              image_dir)
            if cached is not None:
                print(f"Loading preprocessed few-shot data from {path}")
                return cached
        if seed >= 0:
            random.seed(seed)
        train = self.generate_fewshot_dataset(train, num_shots=num_shots)
        val = self.generate_fewshot_dataset(val, num_shots=min(num_shots, 4))
        if seed >= 0:
            data = {"train": to_triples(train, image_dir), "val": to_triples(val, image_dir)}
            print(f"Saving preprocessed few-shot data to {path}")
            # a shared folder: only temp files old enough to be left by killed writes, not by other runs' writes
            remove_stale_temps(cache_dir, min_age_s=3600)
            write_json(data, path)
        return train, val

    @staticmethod
    def _read_fewshot_cache(path, sources, image_dir):
        """The cached ``(train, val)`` when the cache obeys the rule that made it, for each split of ``sources``
        (name -> (full split, K)): items of that split, each once, every class of it with K images (all it has
        when fewer), and present on disk. Else None, with a warning (the caller rebuilds it)."""
        try:
            data = read_json(path)
            out = []
            for split, (source, k) in sources.items():
                items = from_triples(data[split], image_dir)
                check_fewshot_rule(items, source, k, split)
                missing = [item.impath for item in items if not os.path.isfile(item.impath)]
                if missing:
                    raise ValueError(f"missing image {missing[0]}")
                out.append(items)
            return tuple(out)
        except (ValueError, KeyError, TypeError, OSError) as e:
            warnings.warn(f"Ignoring few-shot cache {path}: {e}. It will be rebuilt.")
            return None

    @staticmethod
    def subsample_classes(*args, subsample="all"):
        """Base-to-new split: sort the labels of ``args[0]``; the first ceil(n/2) are base, the rest new;
        keep only the chosen labels in every list and relabel them from 0."""
        if subsample not in ("all", "base", "new"):
            raise ValueError(f'DATASET.SUBSAMPLE_CLASSES must be "all", "base" or "new", got {subsample!r}')
        if subsample == "all":
            return args
        labels = sorted({item.label for item in args[0]})
        m = math.ceil(len(labels) / 2)
        print(f"SUBSAMPLE {subsample.upper()} CLASSES!")
        selected = labels[:m] if subsample == "base" else labels[m:]
        relabeler = {y: y_new for y_new, y in enumerate(selected)}
        output = []
        for dataset in args:
            output.append([
                Datum(impath=item.impath, label=relabeler[item.label], domain=item.domain, classname=item.classname)
                for item in dataset if item.label in relabeler
            ])
        return output


def _class_counts(items):
    counts = defaultdict(int)
    for item in items:
        counts[item.label] += 1
    return counts


def images_per_class(items):
    """{"min": n, "max": n} images per class of ``items`` (what a K-shot set really holds)."""
    counts = _class_counts(items).values()
    return {"min": min(counts), "max": max(counts)} if counts else {"min": 0, "max": 0}


def warn_short_classes(train, num_shots):
    """The real count when classes have fewer training images than DATASET.NUM_SHOTS (they keep all they have)."""
    counts = _class_counts(train)
    short = [n for n in counts.values() if n < num_shots]
    if short:
        real = images_per_class(train)
        span = f"{real['min']}" if real["min"] == real["max"] else f"{real['min']} to {real['max']}"
        print(f"WARNING: DATASET.NUM_SHOTS is {num_shots} but {len(short)} of {len(counts)} classes have fewer "
              f"training images; they use all they have, so this run trains on {span} images per class")


def check_fewshot_rule(items, source, k, split="train"):
    """ValueError unless ``items`` is what Dassl's few-shot rule can draw from ``source`` with ``k`` shots: items of
    ``source``, none twice, every label of ``source`` present with ``min(k, its count)`` items."""
    known = {(item.impath, item.label, item.classname) for item in source}
    seen = set()
    for item in items:
        key = (item.impath, item.label, item.classname)
        if key not in known:
            raise ValueError(f"{item.impath} (label {item.label}, class {item.classname!r}) is not in the dataset's "
                             f"{split} split")
        if key in seen:
            raise ValueError(f"{item.impath} is listed twice in {split}")
        seen.add(key)
    available, cached = _class_counts(source), _class_counts(items)
    for label, n in available.items():
        want = min(k, n) if k >= 1 else n
        if cached[label] != want:
            raise ValueError(f"{split} has {cached[label]} images of class {label}, the {k}-shot rule gives {want} "
                             f"({len(items)} entries for {len(available)} classes in all)")


def to_triples(items, image_dir):
    """Datum list -> ``[[relpath, label, classname], ...]`` (the split_zhou / few-shot JSON form)."""
    return [[os.path.relpath(item.impath, image_dir).replace(os.sep, "/"), item.label, item.classname]
            for item in items]


def from_triples(triples, image_dir):
    return [Datum(impath=os.path.join(image_dir, relpath), label=int(label), classname=classname)
            for relpath, label, classname in triples]
