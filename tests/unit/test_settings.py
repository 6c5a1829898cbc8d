"""Settings: the TOML file documents the real defaults; production refuses unsafe values."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_default_toml_matches_code_defaults() -> None:
    toml = tomllib.loads((ROOT / "config" / "default.toml").read_text())
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert set(toml) == set(defaults)
    for name, value in toml.items():
        expected = defaults[name]
        assert (str(expected) if isinstance(expected, Path) else expected) == value, name


def test_env_overrides_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMEM_PORT", "9123")
    assert Settings().port == 9123


def test_production_refuses_to_start_without_shared_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMEM_ENV", "production")
    with pytest.raises(ValidationError, match="CMEM_REDIS_URL"):
        Settings()
    monkeypatch.setenv("CMEM_REDIS_URL", "redis://r:6379/0")
    monkeypatch.setenv("CMEM_QDRANT_URL", "http://q:6333")
    with pytest.raises(ValidationError, match="JSON"):
        Settings()
    monkeypatch.setenv("CMEM_LOG_FORMAT", "json")
    assert Settings().env == "production"


def test_unknown_setting_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("prot = 1\n")
    monkeypatch.setenv("CMEM_CONFIG_FILE", str(bad))
    with pytest.raises(ValidationError, match="prot"):
        Settings()
