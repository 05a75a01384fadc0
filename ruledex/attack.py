"""MITRE ATT&CK Enterprise: tactics, techniques and data components.

The catalog reads ATT&CK from a compact snapshot shipped in the package, made
from a STIX 2.x bundle by :func:`write_snapshot` (``ruledex attack-snapshot``),
so that a fresh install works offline.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ruledex.model import RuledexError

SNAPSHOT_NAME = "attack-enterprise.json.gz"
_TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


@dataclass(frozen=True)
class Tactic:
    """An ATT&CK tactic; ``order`` is its column in the Enterprise matrix."""

    id: str
    shortname: str
    name: str
    description: str
    order: int


@dataclass(frozen=True)
class Technique:
    """An ATT&CK technique or sub-technique."""

    id: str
    name: str
    tactics: tuple[str, ...]
    description: str
    parent: str | None = None
    platforms: tuple[str, ...] = ()
    revoked: bool = False
    deprecated: bool = False
    revoked_by: str | None = None
    citations: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/") + "/"

    @property
    def status(self) -> str:
        """``revoked``, ``deprecated`` or ``active``."""
        if self.revoked:
            return "revoked"
        return "deprecated" if self.deprecated else "active"


@dataclass(frozen=True)
class DataComponent:
    """An ATT&CK data component with the log sources ATT&CK lists for it."""

    id: str
    name: str
    description: str
    log_sources: tuple[tuple[str, str], ...] = ()


@dataclass
class Attack:
    """One ATT&CK domain, indexed by id."""

    version: str
    tactics: list[Tactic] = field(default_factory=list)
    techniques: dict[str, Technique] = field(default_factory=dict)
    data_components: dict[str, DataComponent] = field(default_factory=dict)

    def technique_status(self, technique_id: str) -> str:
        """``active``, ``revoked``, ``deprecated`` or ``unknown`` for a tag's id."""
        technique = self.techniques.get(technique_id)
        return technique.status if technique else "unknown"

    def subtechniques(self, technique_id: str) -> list[Technique]:
        return sorted((t for t in self.techniques.values() if t.parent == technique_id),
                      key=lambda t: t.id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tactics": [asdict(t) for t in self.tactics],
            "techniques": [asdict(t) for t in self.techniques.values()],
            "data_components": [asdict(d) for d in self.data_components.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attack:
        techniques = {}
        for raw in data["techniques"]:
            raw = dict(raw)
            raw["tactics"] = tuple(raw["tactics"])
            raw["platforms"] = tuple(raw.get("platforms", ()))
            raw["citations"] = tuple(tuple(c) for c in raw.get("citations", ()))
            techniques[raw["id"]] = Technique(**raw)
        components = {}
        for raw in data.get("data_components", []):
            raw = dict(raw)
            raw["log_sources"] = tuple(tuple(s) for s in raw.get("log_sources", ()))
            components[raw["id"]] = DataComponent(**raw)
        return cls(version=data["version"], tactics=[Tactic(**t) for t in data["tactics"]],
                   techniques=techniques, data_components=components)


def _external_id(obj: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    refs = obj.get("external_references") or []
    for ref in refs:
        if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
            return ref["external_id"], refs
    return None, refs


def _read_json(path: Path) -> Any:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, EOFError, json.JSONDecodeError) as err:
        raise RuledexError(f"cannot read ATT&CK data: {err}", str(path)) from err


def load_bundle(path: Path) -> Attack:
    """Read an Enterprise ATT&CK STIX 2.x bundle (``.json`` or ``.json.gz``)."""
    path = Path(path)
    return from_bundle(_read_json(path), _guess_version(path))


def from_bundle(bundle: dict[str, Any], fallback_version: str = "unknown") -> Attack:
    """Build :class:`Attack` from a parsed STIX bundle."""
    objects = {o["id"]: o for o in bundle.get("objects", []) if "id" in o}

    tactic_order: list[str] = []
    version = ""
    for obj in objects.values():
        if obj.get("type") == "x-mitre-matrix" and not tactic_order:
            tactic_order = list(obj.get("tactic_refs", []))
        if obj.get("type") == "x-mitre-collection":
            version = str(obj.get("x_mitre_version", ""))
    tactics: list[Tactic] = []
    for stix_id in tactic_order:
        obj = objects.get(stix_id)
        if obj is None:
            continue
        ext_id, _ = _external_id(obj)
        tactics.append(Tactic(ext_id or "", obj.get("x_mitre_shortname", ""), obj["name"],
                              obj.get("description", ""), len(tactics)))

    revoked_by: dict[str, str] = {}
    for obj in objects.values():
        if obj.get("type") == "relationship" and obj.get("relationship_type") == "revoked-by":
            target = objects.get(obj.get("target_ref", ""))
            if target is not None:
                revoked_by[obj["source_ref"]] = _external_id(target)[0] or ""

    techniques: dict[str, Technique] = {}
    for obj in objects.values():
        if obj.get("type") != "attack-pattern":
            continue
        ext_id, refs = _external_id(obj)
        if not ext_id or not _TECHNIQUE_ID.match(ext_id):
            continue
        techniques[ext_id] = Technique(
            id=ext_id, name=obj.get("name", ""),
            tactics=tuple(p["phase_name"] for p in obj.get("kill_chain_phases", [])
                          if p.get("kill_chain_name") == "mitre-attack"),
            description=obj.get("description", ""),
            parent=ext_id.split(".")[0] if "." in ext_id else None,
            platforms=tuple(obj.get("x_mitre_platforms", [])),
            revoked=bool(obj.get("revoked")), deprecated=bool(obj.get("x_mitre_deprecated")),
            revoked_by=revoked_by.get(obj["id"]),
            citations=tuple((r["source_name"], r.get("url", "")) for r in refs
                            if r.get("source_name") != "mitre-attack"),
        )

    components: dict[str, DataComponent] = {}
    for obj in objects.values():
        if obj.get("type") != "x-mitre-data-component" or obj.get("revoked"):
            continue
        ext_id, _ = _external_id(obj)
        if not ext_id:
            continue
        sources = tuple((str(s.get("name", "")), str(s.get("channel", "")))
                        for s in obj.get("x_mitre_log_sources", []))
        components[ext_id] = DataComponent(ext_id, obj.get("name", ""),
                                           obj.get("description", ""), sources)

    return Attack(version or fallback_version, tactics, dict(sorted(techniques.items())),
                  dict(sorted(components.items())))


def _guess_version(path: Path) -> str:
    match = re.search(r"(\d+\.\d+)", path.name)
    return match.group(1) if match else "unknown"


def write_snapshot(attack: Attack, path: Path) -> None:
    """Write the compact snapshot that ships in the package."""
    payload = json.dumps(attack.to_dict(), separators=(",", ":"), sort_keys=True)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as handle:
        handle.write(payload)


def load_snapshot(path: Path | None = None) -> Attack:
    """Read a snapshot; without a path, the one shipped in the package."""
    if path is None:
        ref = resources.files("ruledex") / "data" / SNAPSHOT_NAME
        with ref.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
            return Attack.from_dict(json.load(handle))
    return Attack.from_dict(_read_json(Path(path)))


def load(path: Path | None = None) -> Attack:
    """Load ATT&CK from a STIX bundle or a snapshot file, or the packaged snapshot."""
    if path is None:
        return load_snapshot()
    path = Path(path)
    data = _read_json(path)
    if isinstance(data, dict) and "objects" in data:
        return from_bundle(data, _guess_version(path))
    if isinstance(data, dict) and "techniques" in data:
        return Attack.from_dict(data)
    raise RuledexError("neither a STIX bundle nor a ruledex ATT&CK snapshot", str(path))
