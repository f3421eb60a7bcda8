"""The service side of ``[http]``: the config template's commented block is a valid
config naming the credential the unit loads (``LoadCredential=http-token``), and the
token is read from ``$CREDENTIALS_DIRECTORY`` as systemd provides it. The unit's
hardening score with these lines is checked by tests/systemd/test_unit.py (<= 1.5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config.load import load_config
from edge.errors import ConfigError
from edge.http import read_token

REPO = Path(__file__).resolve().parents[3]


def test_the_commented_http_block_of_the_template_is_valid_and_its_credential_loaded(
    tmp_path: Path,
) -> None:
    text = (REPO / "systemd" / "edge.toml").read_text()
    block = text.split("# [http]\n", 1)[1].split("\n\n", 1)[0]
    table = "[http]\n" + "\n".join(line[2:] for line in block.splitlines())
    path = tmp_path / "edge.toml"
    path.write_text(text + "\n" + table + "\n")
    config = load_config(path)
    assert config.http.enabled and config.http.listen == "0.0.0.0:8080"
    assert config.http.token_credential == "http-token"
    unit = (REPO / "systemd" / "edge.service").read_text().splitlines()
    assert "LoadCredential=http-token:/etc/edge/http-token" in unit
    assert "SetCredential=http-token:\\n" in unit


def test_the_token_comes_from_the_credentials_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(None, {"http": {"token_credential": "http-token"}}).http
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(ConfigError, match="HTTP token is a systemd credential"):
        read_token(config)
    (tmp_path / "http-token").write_text("tok-123\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert read_token(config) == "tok-123"
    # SetCredential=http-token:\n (no file in /etc/edge): an empty token is refused, so
    # a LAN listener never runs without one.
    (tmp_path / "http-token").write_text("\n")
    with pytest.raises(ConfigError, match=r"HTTP token file .* is empty"):
        read_token(config)
