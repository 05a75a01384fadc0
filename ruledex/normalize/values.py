"""Rewrite predicate values into one form per meaning, field kind by field kind.

Each function takes an operator and a value already case-folded as the field
requires and returns the canonical ``(field, op, value)``; the catalog keeps the
value as written in ``value_raw``. Path-like values are handled as ``*``/``?``
patterns so that a drive wildcard (``?:\\``) or a wildcard user SID in a registry
key folds the same way as a literal one.
"""

from __future__ import annotations

import re

from ruledex.languages.wildcards import classify, split_pattern

BASENAME_EQ = "basename_eq"
"""Extra operator of normalized predicates: the basename of a path equals the value."""

DRIVE = "%drive%"
"""The one token for a drive: C:\\, D:\\, ?:\\ and \\Device\\HarddiskVolumeN\\."""

CONTROL_SET = "%controlset%"
"""The one token for SYSTEM\\CurrentControlSet, ControlSet001 and friends."""

SEPARATORS = ("\\", "/")
AFFIX_OPS = frozenset({"eq", "starts_with", "ends_with", "contains"})
PATTERN_OPS = AFFIX_OPS | {"wildcard"}

_DRIVE = re.compile(r"^\*?(?:[a-z?])?:\\|^\*?\\device\\harddiskvolume(?:\d+|[?*]+)\\",
                    re.IGNORECASE)
_HIVE = re.compile(
    r"^(\*?)(hkey_local_machine|hklm|\\registry\\machine|machine|hkey_users|hku|"
    r"\\registry\\user|hkey_current_user|hkcu|hkey_classes_root|hkcr|h[a-z_]*\*)(?=\\|$)",
    re.IGNORECASE)
_USER_HIVES = frozenset({"hkey_users", "hku", "\\registry\\user"})
_CLASS_HIVES = frozenset({"hkey_classes_root", "hkcr"})
# The user SID segment after HKU: a SID, .DEFAULT, or a wildcard, maybe with _Classes.
_SID = re.compile(r"^\\(?:s-1-[0-9-]*\*?|\.default|\*)(_classes)?(?=\\|$)", re.IGNORECASE)
_CONTROL_SET = re.compile(
    r"(?:^|\\)(?:system\\)?\*?(?:current)?controlset(?:\d{3}|\d{0,3}[*?]+(?=\\))?(?=\\|\*|$)",
    re.IGNORECASE)
_DWORD = re.compile(
    r"(?:dword|qword)\s*\(\s*(?:0x)?([0-9a-f]+)(?:\s*-\s*(?:0x)?([0-9a-f]+))?\s*\)",
    re.IGNORECASE)
_HEX = re.compile(r"0x[0-9a-f]{1,16}", re.IGNORECASE)
_HASH = re.compile(r"(md5|sha1|sha256|sha384|sha512|imphash)=([0-9a-f]+)", re.IGNORECASE)
_EXTENSION = re.compile(r"\.[^.\\/]+")

Key = tuple[str, str, str]


def as_pattern(op: str, value: str) -> str | None:
    """The value as a ``*``/``?`` pattern, or None when it cannot be read as one."""
    if op == "wildcard":
        return value
    if op not in AFFIX_OPS or "*" in value or "?" in value:
        # A literal * or ? would turn into a wildcard on the way back.
        return None
    if op == "eq":
        return value
    if op == "starts_with":
        return value + "*"
    if op == "ends_with":
        return "*" + value
    return "*" + value + "*"


def from_pattern(pattern: str) -> tuple[str, str]:
    """The operator and value of a ``*``/``?`` pattern."""
    return classify(split_pattern(pattern, escape=None))


def fold_drive(op: str, value: str) -> tuple[str, str]:
    """``C:\\x``, ``?:\\x``, ``*:\\x`` and ``\\Device\\HarddiskVolume3\\x`` -> ``%drive%\\x``.

    The drive starts the path, so a wildcard before it is dropped: ``*:\\Windows\\*``
    is a starts_with like ``C:\\Windows\\``. Case-sensitive values keep their case.
    """
    pattern = as_pattern(op, value)
    if pattern is None:
        return op, value
    folded = _DRIVE.sub(lambda _: DRIVE + "\\", pattern, count=1)
    if folded == pattern:
        return op, value
    return from_pattern(folded)


def basename(path: str) -> str:
    """The part of a path after its last separator (either kind)."""
    cut = max(path.rfind(sep) for sep in SEPARATORS)
    return path[cut + 1:]


def _has_separator(text: str) -> bool:
    return any(sep in text for sep in SEPARATORS)


def project_path(field: str, op: str, value: str, name: str,
                 extension: str | None = None) -> Key:
    """Image and file paths: a test that pins the basename becomes ``basename_eq``.

    ``endswith '\\x.exe'`` and an exact path both become (field, basename_eq, x.exe);
    ``endswith 'x.exe'`` stays, since it also matches ``xx.exe``. With an
    ``extension`` partner, ``endswith '.dll'`` becomes (extension, eq, dll).
    """
    op, value = fold_drive(op, value)
    if extension is not None and op == "ends_with" and _EXTENSION.fullmatch(value):
        return extension, "eq", value[1:]
    if op == "eq" and _has_separator(value) and basename(value):
        # Known loss: the folders of an exact path are not in the key, so C:\Temp\x.exe
        # and C:\Windows\x.exe count as one indicator; value_raw keeps them.
        return field, BASENAME_EQ, basename(value)
    if (op == "ends_with" and len(value) > 1 and value[0] in SEPARATORS
            and not _has_separator(value[1:])):
        return field, BASENAME_EQ, value[1:]
    return field, op, value


def project_name(field: str, op: str, value: str, path: str,
                 extension: str | None = None) -> Key:
    """A basename field: equality meets the path's ``basename_eq``; a suffix is the path's."""
    if _has_separator(value):
        return field, op, value
    if extension is not None and op == "ends_with" and _EXTENSION.fullmatch(value):
        return extension, "eq", value[1:]
    if op == "eq" and value:
        return path, BASENAME_EQ, value
    if op == "ends_with":
        # The end of the basename is the end of the path.
        return path, "ends_with", value
    return field, op, value


def extension_value(op: str, value: str) -> str:
    """File extensions are kept without their leading dot."""
    return value[1:] if op == "eq" and value.startswith(".") else value


def registry_key(op: str, value: str) -> tuple[str, str]:
    """A hive-agnostic registry key: the hive goes, an anchored test becomes a suffix one.

    ``HKLM\\Software\\X\\*`` and ``HKU\\*\\Software\\X\\*`` both become contains
    ``\\software\\x\\``; ``HKCU\\...`` is HKU with its SID; HKCR and the user's
    ``_Classes`` hive are ``\\software\\classes``; control sets fold to ``%controlset%``.
    Hives and control sets are recognised in any case.
    """
    pattern = as_pattern(op, value)
    if pattern is None:
        return op, value
    rewritten = _drop_hive(pattern)
    rewritten = _CONTROL_SET.sub(lambda _: "\\" + CONTROL_SET, rewritten)
    if rewritten == pattern:
        return op, value
    return from_pattern(rewritten)


def _drop_hive(pattern: str) -> str:
    match = _HIVE.match(pattern)
    if match is None:
        return pattern
    hive = match.group(2).lower()
    rest = pattern[match.end():]
    classes = hive in _CLASS_HIVES
    if hive in _USER_HIVES:
        sid = _SID.match(rest)
        if sid is not None:
            classes = bool(sid.group(1))
            rest = rest[sid.end():]
    if classes:
        rest = "\\software\\classes" + rest
    # Known loss: the hive is not in the key, so HKLM\X and HKCU\X are one indicator.
    if not rest.strip("\\*?"):
        # Nothing below the hive: the hive is the whole test, keep it.
        return pattern
    return "*" + rest


def registry_data(op: str, value: str) -> tuple[str, str]:
    """``DWORD (0x00000001)``, ``QWORD (0x0-0x1)`` and ``0x00000001`` -> ``1``."""
    if op in AFFIX_OPS:
        match = _DWORD.fullmatch(value.strip())
        if match is not None:
            # The DWORD text is the whole of Sysmon's Details, so any affix test on it
            # is an equality.
            high, low = match.group(1), match.group(2)
            number = int(low, 16) | (int(high, 16) << 32) if low else int(high, 16)
            return "eq", str(number)
    if op == "eq" and _HEX.fullmatch(value):
        return "eq", str(int(value, 16))
    return op, value


def project_hashes(field: str, op: str, value: str) -> Key:
    """Sysmon's Hashes list: ``contains 'SHA256=ab..'`` -> (<entity>.hash.sha256, eq, ab..)."""
    if op not in AFFIX_OPS:
        return field, op, value
    match = _HASH.fullmatch(value.strip())
    if match is None:
        return field, op, value
    entity = field.removesuffix(".hash")
    # Hex digests mean the same in either case.
    algorithm, digest = match.group(1).lower(), match.group(2).lower()
    if algorithm == "imphash":
        return f"{entity}.pe.imphash", "eq", digest
    return f"{entity}.hash.{algorithm}", "eq", digest
