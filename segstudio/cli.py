"""The `segstudio` entry point: the GUI by default, subcommands for scripting.

    segstudio [PATH] [--labels L] [--model M]   open the studio
    segstudio eval|predict|models|export|import|train ...
"""

from __future__ import annotations

import argparse
import importlib
import sys

from segstudio.commands import COMMANDS
from segstudio.core.errors import SegstudioError

# What `_gui_parser().parse_args([])` gives (a test keeps them equal): a plain `segstudio` launch, as
# from the desktop menu, skips building the parser (argparse's set-up, gettext and shutil, ~10 ms of
# the time to the first paint).
GUI_DEFAULTS = {"path": None, "labels": None, "model": None, "masks": None, "install_desktop": False,
                "uninstall_desktop": False}


def _gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="segstudio",
        description="Semantic segmentation studio. Without a command, opens the GUI.",
        epilog="commands:\n" + "\n".join(f"  {n:<9} {h}" for n, (_, h) in COMMANDS.items())
        + "\n\nRun 'segstudio COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", nargs="?", help="image or folder to open (default: the bundled samples)")
    p.add_argument("--labels", help="label set for the folder: voc, camvid or a file")
    p.add_argument("--model", help="model to select (name or checkpoint path)")
    p.add_argument("--masks", help="folder for the label PNGs (default: SegmentationClass/ beside the images)")
    p.add_argument("--install-desktop", action="store_true",
                   help="add segstudio to your desktop's application menu (.desktop entry and icon), then exit")
    p.add_argument("--uninstall-desktop", action="store_true", help="remove that entry and icon, then exit")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        name = argv.pop(0)
        module_name, help_text = COMMANDS[name]
        module = importlib.import_module(module_name)
        parser = argparse.ArgumentParser(prog=f"segstudio {name}", description=help_text)
        module.add_arguments(parser)
        args = parser.parse_args(argv)
        try:
            return int(module.run(args) or 0)
        except SegstudioError as e:
            print(f"segstudio {name}: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"segstudio {name}: interrupted", file=sys.stderr)
            return 130
    args = _gui_parser().parse_args(argv) if argv else argparse.Namespace(**GUI_DEFAULTS)
    if args.install_desktop or args.uninstall_desktop:
        from segstudio.desktop import run_cli

        try:
            return run_cli(install_it=args.install_desktop)
        except (SegstudioError, OSError) as e:
            print(f"segstudio: error: {e}", file=sys.stderr)
            return 2
    from segstudio.gui.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
