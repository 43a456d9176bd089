"""The core package must stay free of Qt and torch (DESIGN.md section 1)."""

import subprocess
import sys


def test_importing_core_loads_neither_torch_nor_qt():
    code = (
        "import sys, pkgutil, importlib, segstudio.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'segstudio.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "import segstudio.cli, segstudio.commands.cmd_eval\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'shiboken6'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core pulled in: {out.stdout.strip()}"
