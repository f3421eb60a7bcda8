"""Home Assistant's config folder for scripts/test-ha.sh, written before HA's first start.

    python scripts/ha_check/haconfig.py CONFIG_DIR --mqtt-port N --http-port N --token-out F

- ``configuration.yaml``: the core settings (so HA asks nothing), the logger (warnings,
  the MQTT integration at info for "MQTT client initialized, birth message sent", and
  ``homeassistant.util.package`` at info for "Attempting install of ..."),
  ``http`` on the given port, and ``recorder`` with ``commit_interval: 1`` so every state
  change is in ``home-assistant_v2.db`` within a second;
- ``.storage/core.config_entries``: the MQTT integration's config entry (MQTT cannot be
  set up from YAML any more), broker 127.0.0.1:N, discovery on ``homeassistant``;
- ``.storage/auth``: an owner user with one long-lived access token, so the run can fetch
  the image entity through ``/api/image_proxy``; the token (a JWT signed with the refresh
  token's key, what HA's ``async_create_access_token`` makes) is written to ``--token-out``.
  The format is HA 2026.2's ``auth`` store; if HA does not accept it, the proxy fetch gets
  401 and the check says so (the rest of the run does not depend on it).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

CREATED = "2026-01-01T00:00:00+00:00"
TOKEN_LIFETIME_S = 10 * 365 * 86400

CONFIGURATION_YAML = """\
homeassistant:
  name: edge-infer HA check
  unit_system: metric
  time_zone: UTC
  latitude: 52.0
  longitude: 13.0
  elevation: 0
  currency: EUR
  country: DE
logger:
  default: warning
  logs:
    homeassistant.components.mqtt: info
    homeassistant.util.package: info
http:
  server_port: {http_port}
recorder:
  commit_interval: 1
"""


def store(key: str, data: dict[str, Any], *, version: int = 1, minor: int = 1) -> str:
    return json.dumps(
        {"version": version, "minor_version": minor, "key": key, "data": data}, indent=2
    )


def mqtt_entry(port: int) -> dict[str, Any]:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # a ULID's characters
    entry_id = "01" + "".join(secrets.choice(alphabet) for _ in range(24))
    return {
        "entry_id": entry_id,
        "version": 1,
        "minor_version": 2,
        "domain": "mqtt",
        "title": "127.0.0.1",
        "data": {"broker": "127.0.0.1", "port": port},
        "options": {"discovery": True, "discovery_prefix": "homeassistant"},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "unique_id": None,
        "disabled_by": None,
        "created_at": CREATED,
        "modified_at": CREATED,
        "discovery_keys": {},
        "subentries": [],
    }


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_hs256(claims: dict[str, Any], key: str) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = hmac.new(key.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(signature)}"


def auth_store() -> tuple[dict[str, Any], str]:
    """An owner with one long-lived access token; returns the store's data and the token."""
    user_id, token_id = secrets.token_hex(16), secrets.token_hex(16)
    jwt_key = secrets.token_hex(64)
    refresh_token = {
        "id": token_id,
        "user_id": user_id,
        "client_id": None,
        "client_name": "edge-infer HA check",
        "client_icon": None,
        "token_type": "long_lived_access_token",
        "created_at": CREATED,
        "access_token_expiration": float(TOKEN_LIFETIME_S),
        "token": secrets.token_hex(64),
        "jwt_key": jwt_key,
        "last_used_at": None,
        "last_used_ip": None,
        "expire_at": None,
        "credential_id": None,
        "version": None,
    }
    data = {
        "users": [
            {
                "id": user_id,
                "group_ids": ["system-admin"],
                "is_owner": True,
                "is_active": True,
                "name": "edge-infer HA check",
                "system_generated": False,
                "local_only": False,
            }
        ],
        "groups": [
            {"id": "system-admin", "name": "Administrators"},
            {"id": "system-users", "name": "Users"},
            {"id": "system-read-only", "name": "Read Only"},
        ],
        "credentials": [],
        "refresh_tokens": [refresh_token],
    }
    now = int(time.time())
    token = jwt_hs256({"iss": token_id, "iat": now, "exp": now + TOKEN_LIFETIME_S}, jwt_key)
    return data, token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config_dir", type=Path)
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--token-out", type=Path, required=True)
    args = parser.parse_args()
    storage = args.config_dir / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    (args.config_dir / "configuration.yaml").write_text(
        CONFIGURATION_YAML.format(http_port=args.http_port)
    )
    (storage / "core.config_entries").write_text(
        store("core.config_entries", {"entries": [mqtt_entry(args.mqtt_port)]}, minor=5)
    )
    auth, token = auth_store()
    (storage / "auth").write_text(store("auth", auth))
    args.token_out.write_text(token + "\n")
    args.token_out.chmod(0o600)
    print(
        f"ha config: {args.config_dir} (MQTT 127.0.0.1:{args.mqtt_port}, "
        f"http 127.0.0.1:{args.http_port}, recorder commit_interval 1, an owner with a "
        "long-lived token)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
