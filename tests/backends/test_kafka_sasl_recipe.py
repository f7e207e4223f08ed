"""The ``kafka-sasl`` recipe's configuration, without starting a broker (the Kafka cases start it).

Its only client listener needs SASL, topic auto-creation is off, the password is random per
working folder and kept in 0600 files, and the StorageTool command line carries only salted
SCRAM hashes, never the password.
"""

from __future__ import annotations

import base64
import hashlib
import re
import stat
from pathlib import Path

from blockyard_conformance.backends.native import load_recipe
from blockyard_conformance.backends.native.kafka_sasl import USERNAME, KafkaSaslRecipe


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_the_launcher_knows_the_sasl_variant() -> None:
    assert isinstance(load_recipe("kafka-sasl"), KafkaSaslRecipe)


def test_only_a_sasl_listener_and_no_auto_creation(tmp_path: Path) -> None:
    props = properties(KafkaSaslRecipe().server_properties(19094, 19095, tmp_path))
    assert props["listeners"] == "SASL_PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    assert props["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:19094"
    assert props["sasl.enabled.mechanisms"] == "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    assert props["auto.create.topics.enable"] == "false"
    assert "PLAINTEXT://" not in props["listeners"].replace("SASL_PLAINTEXT://", "")
    assert list(props) == list(dict.fromkeys(props)), "a setting is given twice"


def test_password_is_random_private_and_stable_per_folder(tmp_path: Path) -> None:
    recipe = KafkaSaslRecipe()
    first = recipe.endpoint(19094, tmp_path)
    again = recipe.endpoint(19094, tmp_path)
    (tmp_path / "other").mkdir()
    other = recipe.endpoint(19094, tmp_path / "other")
    assert first.params["username"] == USERNAME
    assert first.params["password"] == again.params["password"]
    assert first.params["password"] != other.params["password"]
    assert len(first.params["password"]) >= 24
    assert stat.S_IMODE((tmp_path / "password").stat().st_mode) == 0o600
    assert first.params["password"] not in repr(first)


def test_format_arguments_carry_salted_hashes_only(tmp_path: Path) -> None:
    recipe = KafkaSaslRecipe()
    password = recipe.endpoint(19094, tmp_path).params["password"]
    args = recipe.format_args(tmp_path)
    assert args[0::2] == ["--add-scram", "--add-scram"]
    assert all(password not in arg for arg in args)
    for arg, digest in zip(args[1::2], ("sha256", "sha512"), strict=True):
        fields = dict(re.findall(r'(\w+)="?([^",\]]+)"?', arg.split("=", 1)[1]))
        salt = base64.b64decode(fields["salt"])
        expected = hashlib.pbkdf2_hmac(digest, password.encode(), salt, int(fields["iterations"]))
        assert base64.b64decode(fields["saltedpassword"]) == expected
        assert fields["name"] == USERNAME
