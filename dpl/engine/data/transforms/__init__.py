from .transforms import AVAI_CHOICES, INTERPOLATION_MODES, build_transform
