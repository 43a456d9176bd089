"""The studio's settings file, checked once when a window opens: a damaged file never stops the studio.

Settings are an INI file (QSettings). A file Qt cannot parse is kept beside
itself as `<name>.damaged` (Qt would write the next settings over it) and the
studio starts from the defaults; a value of the wrong type (a brush size of
"abc", an opacity of 1e99, a window state that is not one) is removed, so the
code that reads it gets its default. `check(settings)` does both and returns
what it found as one line, which the studio shows once in the status bar
(`app.run_app`) and logs; `problem` keeps the last one.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

log = logging.getLogger(__name__)

#: key -> the type its readers ask QSettings for (anything else there is removed).
TYPED = {"view/opacity": int, "tools/brush_size": int, "predict/fill_only_unlabelled": bool,
         "tools/tool": str, "tools/assist": str, "predict/scale": str, "predict/tta": str, "recent": list}
BYTES = ("window/geometry", "window/state")
PREFIXED = ("gt/", "last_image/")  # per-folder paths: strings

problem: str | None = None  # what the last check found (None: nothing)


def open_settings() -> QSettings:
    """segstudio's settings (INI format, so tests can redirect them with QSettings.setPath), unchecked."""
    return (QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "segstudio", "segstudio"))


def check(settings: QSettings) -> QSettings:
    """`settings`, with a damaged file set aside and values of the wrong type removed (see the module)."""
    global problem
    path = Path(settings.fileName())
    found = []
    if settings.status() == QSettings.Status.FormatError:
        kept = _keep_damaged(path)
        settings.clear()
        found.append(f"{path} could not be read (damaged); the defaults are used"
                     + (f" and the damaged file was kept as {kept.name}" if kept else ""))
    elif settings.status() == QSettings.Status.AccessError:
        found.append(f"{path} cannot be read or written; the defaults are used and settings will not be kept")
    bad = [key for key in settings.allKeys() if not _value_ok(settings, key)]
    for key in bad:
        settings.remove(key)
    if bad:
        found.append(f"{path}: ignored {len(bad)} setting(s) of the wrong type ({', '.join(bad[:4])}"
                     f"{' ...' if len(bad) > 4 else ''})")
    problem = "; ".join(found) or None
    if problem:
        log.warning("settings: %s", problem)
    return settings


def _value_ok(settings: QSettings, key: str) -> bool:
    try:
        if key in BYTES:
            return isinstance(settings.value(key), (QByteArray, bytes))
        kind = TYPED.get(key) or (str if key.startswith(PREFIXED) else None)
        if kind is None:
            return True  # a key of another version: left alone
        value = settings.value(key, None, kind)
        if kind is int:  # Qt reads "abc" as 0: the text itself must be a whole number
            int(str(settings.value(key)))
    except (TypeError, ValueError, OverflowError, RuntimeError):
        return False
    if kind is list:
        return isinstance(value, list) and all(isinstance(v, str) and "\0" not in v for v in value)
    return not isinstance(value, str) or "\0" not in value


def _keep_damaged(path: Path) -> Path | None:
    """A copy of the damaged file beside it (a free name), or None if there is none to keep or it fails."""
    if not path.is_file():
        return None
    for i in range(100):
        target = path.with_name(path.name + (".damaged" if i == 0 else f".damaged.{i}"))
        if not target.exists():
            try:
                shutil.copy2(path, target)
            except OSError:
                return None
            return target
    return None
