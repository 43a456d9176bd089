"""The superpixel levels, apart from core.assist.superpixels (OpenCV) so that the studio can name them at start-up."""

#: Segments per image at each level.
LEVELS: dict[str, int] = {"coarse": 100, "medium": 400, "fine": 1600}
