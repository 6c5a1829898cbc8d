"""docker-compose.yml (production) cannot run here: validate it against the code instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from service.cli import build_parser
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def test_services_are_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "valkey",
        "qdrant",
        "api",
        "worker",
        "prometheus",
        "grafana",
    }


def test_valkey_persists_with_aof_everysec(compose: dict[str, Any]) -> None:
    cmd = " ".join(compose["services"]["valkey"]["command"])
    assert "--appendonly yes" in cmd
    assert "--appendfsync everysec" in cmd
    assert any(v.endswith(":/data") for v in compose["services"]["valkey"]["volumes"])


@pytest.mark.parametrize("name", ["api", "worker"])
def test_app_services_are_valid_cmem_commands_with_valid_settings(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = compose["services"][name]
    command = service["command"]
    assert command[0] == "cmem"
    args = build_parser().parse_args(command[1:])
    assert args.command == name
    env = service["environment"]
    fields = set(Settings.model_fields)
    for key, value in env.items():
        assert key.startswith("CMEM_"), key
        assert key[5:].lower() in fields, f"{key} is not a setting"
        monkeypatch.setenv(key, str(value))
    settings = Settings()  # production validation runs here
    assert settings.env == "production"
    for url in (settings.redis_url, settings.qdrant_url):
        assert urlparse(url).hostname in compose["services"]
    assert set(service["depends_on"]) == {"valkey", "qdrant"}
    if name == "api":
        assert f"{args.port}:{args.port}" in service["ports"]
        assert args.host == "0.0.0.0"  # needs API keys: the service refuses keyless non-loopback


def test_compose_names_no_unknown_setting_anywhere(compose: dict[str, Any]) -> None:
    anchors = compose["x-cmem-env"]
    assert all(k[5:].lower() in Settings.model_fields for k in anchors)


def test_dockerfile_pins_torch_and_installs_the_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in text
    assert "pip install ." in text


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> repository path of each bind mount (./...) of a service."""
    out = {}
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            out[target] = ROOT / source
    return out


def test_prometheus_scrapes_the_api_and_every_worker(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    prometheus = compose["services"]["prometheus"]
    mounts = _mounts(prometheus)
    config = yaml.safe_load(mounts["/etc/prometheus/prometheus.yml"].read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"api", "worker"}
    api_args = build_parser().parse_args(compose["services"]["api"]["command"][1:])
    worker_env = compose["services"]["worker"]["environment"]
    for key, value in worker_env.items():
        monkeypatch.setenv(key, str(value))
    worker_settings = Settings()
    assert worker_settings.host == "0.0.0.0"  # reachable from the prometheus container
    expected = {"api": api_args.port, "worker": worker_settings.worker_metrics_port}
    for name, port in expected.items():
        (sd,) = jobs[name]["dns_sd_configs"]
        assert sd["names"] == [name]
        assert name in compose["services"]
        assert sd["port"] == port
        assert jobs[name]["metrics_path"] == "/metrics"


def test_grafana_is_provisioned_with_the_dashboard_and_prometheus(
    compose: dict[str, Any],
) -> None:
    grafana = compose["services"]["grafana"]
    mounts = _mounts(grafana)
    provisioning = mounts["/etc/grafana/provisioning"]
    (source,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    assert "9090:9090" in compose["services"]["prometheus"]["ports"]
    (provider,) = yaml.safe_load((provisioning / "dashboards/cmem.yml").read_text())["providers"]
    dashboards = mounts[provider["options"]["path"]]
    dashboard = json.loads((dashboards / "cmem.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 20
    assert {p["datasource"]["uid"] for p in panels} == {source["uid"]}
    assert all(p["targets"] for p in panels)
