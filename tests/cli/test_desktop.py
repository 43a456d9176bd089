"""`segstudio --install-desktop` / `--uninstall-desktop`: a valid freedesktop entry and icon, per user."""

import xml.etree.ElementTree as ET

import pytest

from segstudio.cli import main
from segstudio.desktop import desktop_entry, install

# Keys of the Desktop Entry Specification 1.5 this entry may use, with their value types.
KNOWN_KEYS = {"Type": "string", "Version": "string", "Name": "localestring", "GenericName": "localestring",
              "Comment": "localestring", "Exec": "string", "Icon": "iconstring", "Terminal": "boolean",
              "Categories": "strings", "Keywords": "localestrings", "MimeType": "strings",
              "StartupNotify": "boolean", "StartupWMClass": "string", "TryExec": "string"}
MAIN_CATEGORIES = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network",
                   "Office", "Science", "Settings", "System", "Utility"}
EXEC_FIELD_CODES = {"%f", "%F", "%u", "%U", "%i", "%c", "%k"}


def parse_entry(text: str) -> dict[str, str]:
    """Check the file's structure as the spec states it and return the [Desktop Entry] keys."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "[Desktop Entry]"
    keys = {}
    for ln in lines[1:]:
        assert not ln.startswith("["), "one group only"
        key, sep, value = ln.partition("=")
        assert sep and key == key.strip() and key not in keys
        keys[key] = value
    return keys


def exec_argv(value: str) -> list[str]:
    """Split an Exec value as the spec says: string escapes first, then quoted arguments."""
    value = value.replace("\\\\", "\\")
    argv, i = [], 0
    while i < len(value):
        if value[i] == " ":
            i += 1
            continue
        if value[i] != '"':
            end = value.find(" ", i)
            end = len(value) if end < 0 else end
            argv.append(value[i:end])
            i = end
            continue
        arg, i = "", i + 1
        while value[i] != '"':
            if value[i] == "\\":
                assert value[i + 1] in '"`$\\'
                i += 1
            arg += value[i]
            i += 1
        argv.append(arg.replace("%%", "%"))
        i += 1
    return argv


def validate(keys: dict[str, str]) -> None:
    for key, value in keys.items():
        if key.startswith("X-"):
            continue
        assert key in KNOWN_KEYS, f"unknown key {key}"
        kind = KNOWN_KEYS[key]
        if kind == "boolean":
            assert value in ("true", "false")
        if kind in ("strings", "localestrings"):
            assert value.endswith(";") and all(value.split(";")[:-1])
        assert "\n" not in value and value == value.strip()
    for required in ("Type", "Name", "Exec"):
        assert keys.get(required)
    assert keys["Type"] == "Application" and keys["Version"] == "1.5"
    assert MAIN_CATEGORIES & set(keys["Categories"].split(";"))
    assert all(m.count("/") == 1 for m in keys["MimeType"].split(";")[:-1])
    argv = exec_argv(keys["Exec"])
    assert argv[-1] in EXEC_FIELD_CODES and not any(a.startswith("%") for a in argv[:-1])


def test_install_writes_a_valid_entry_and_icon_then_uninstall_removes_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert main(["--install-desktop"]) == 0
    entry = tmp_path / "share" / "applications" / "segstudio.desktop"
    icon = tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "segstudio.svg"
    keys = parse_entry(entry.read_text(encoding="utf-8"))
    validate(keys)
    assert keys["Icon"] == icon.stem and keys["Terminal"] == "false"
    root = ET.fromstring(icon.read_text(encoding="utf-8").split("\n", 2)[2])
    assert root.tag.endswith("svg") and root.get("viewBox") == "0 0 128 128"
    assert "installed" in capsys.readouterr().out
    assert main(["--install-desktop"]) == 0  # its own files are replaced

    assert main(["--uninstall-desktop"]) == 0
    assert not entry.exists() and not icon.exists()
    assert main(["--uninstall-desktop"]) == 0
    assert "no segstudio desktop entry installed" in capsys.readouterr().out


def test_someone_elses_files_are_never_replaced_or_removed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    entry = tmp_path / "applications" / "segstudio.desktop"
    entry.parent.mkdir(parents=True)
    entry.write_text("[Desktop Entry]\nType=Application\nName=Mine\nExec=mine\n")
    assert main(["--install-desktop"]) == 2
    assert "not written by segstudio" in capsys.readouterr().err
    assert main(["--uninstall-desktop"]) == 0
    assert entry.read_text().startswith("[Desktop Entry]\nType=Application\nName=Mine")
    assert not (tmp_path / "icons").exists()


@pytest.mark.parametrize("command", [["/opt/seg studio/bin/segstudio"], ["/usr/bin/python3", "-m", "segstudio"],
                                     ['/home/a"b/$x/back\\slash/segstudio']])
def test_exec_quoting_survives_odd_paths(command, tmp_path):
    keys = parse_entry(desktop_entry(command))
    validate(keys)
    # The spec's order: the string escape (\\ -> \) first, then the Exec quoting rules.
    assert exec_argv(keys["Exec"])[:-1] == command
    install(tmp_path, command)
    validate(parse_entry((tmp_path / "applications" / "segstudio.desktop").read_text()))
