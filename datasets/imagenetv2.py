"""ImageNetV2 matched-frequency (test only): ``imagenetv2/imagenetv2-matched-frequency-format-val/<label>/*``
where <label> is the ImageNet class index (0..999) in classnames.txt order."""
import os

from dpl.engine.data.datasets import DATASET_REGISTRY

from .imagenet import ImageNetFolderTestSet, list_class_folder


@DATASET_REGISTRY.register()
class ImageNetV2(ImageNetFolderTestSet):
    dataset_dir = "imagenetv2"
    image_subdir = "imagenetv2-matched-frequency-format-val"
    config_stem = "imagenetv2"

    @classmethod
    def read_splits(cls, root):
        folder = cls.require_dir(cls.folder(root))
        image_dir = cls.require_dir(os.path.join(folder, cls.image_subdir), "Image folder not found")
        names = list(cls.load_classnames(root).values())
        labels = sorted(int(n) for n in os.listdir(image_dir) if n.isdigit() and os.path.isdir(os.path.join(image_dir, n)))
        if not labels:
            raise cls.error("No class folders 0..999 found", image_dir)
        if labels[-1] >= len(names):
            raise cls.error(f"Class folder {labels[-1]} is beyond the {len(names)} classes of classnames.txt", image_dir)
        data = []
        for label in labels:
            data += list_class_folder(os.path.join(image_dir, str(label)), label, names[label])
        return {"test": data}
