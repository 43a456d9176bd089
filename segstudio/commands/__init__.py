"""Subcommands of the `segstudio` CLI, one module each.

Each module defines `add_arguments(parser)` and `run(args) -> int`. They are
imported only when their command runs, so `segstudio eval` never pays for
torch or Qt.
"""

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("segstudio.commands.cmd_eval", "score predicted label PNGs, or a model, against ground truth"),
    "predict": ("segstudio.commands.cmd_predict", "predict label PNGs for images with a model"),
    "models": ("segstudio.commands.cmd_models", "list the models found, with their cards"),
    "export": ("segstudio.commands.cmd_export", "export masks as Pascal VOC or COCO JSON"),
    "import": ("segstudio.commands.cmd_import", "import VOC / COCO / labelme / CVAT annotations as label PNGs"),
    "train": ("segstudio.commands.cmd_train", "train or fine-tune a model on image + mask folders"),
    "export-model": ("segstudio.commands.cmd_export_model", "export a model as ONNX (model card as metadata)"),
    "frames": ("segstudio.commands.cmd_frames", "extract a video's frames as PNGs to annotate as a sequence"),
}
