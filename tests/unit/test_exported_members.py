"""Pin the public surface of the cryptographic core (httpx tests/test_exported_members.py)."""

from __future__ import annotations

import ast
import importlib
import inspect
from types import ModuleType

import pytest

EXPORTS: dict[str, list[str]] = {
    "molink.errors": [
        "ClockSkewExceeded",
        "ConfigError",
        "DeadlinePassed",
        "DecryptionFailed",
        "Equivocation",
        "Forbidden",
        "InvalidInput",
        "KeyFileError",
        "MalformedData",
        "MolinkError",
        "NotAuthenticated",
        "NotFound",
        "OversizedInput",
        "PeerDataInvalid",
        "PeerUnreachable",
        "ProofInvalid",
        "RateLimited",
        "ReplayDetected",
        "RoutingMismatch",
        "SignatureInvalid",
        "StateConflict",
        "StorageError",
        "UnknownPeer",
        "WrongPassphrase",
        "WrongRecipient",
    ],
    "molink.core.b64": ["b64decode", "b64encode", "b64url_decode", "b64url_encode"],
    "molink.core.canonical": ["MAX_SAFE_INTEGER", "canonical_json", "is_canonical", "parse_json"],
    "molink.core.keys": [
        "PartyKeys",
        "PartyPublicKeys",
        "fingerprint",
        "is_party_id",
        "jwk_thumbprint",
    ],
    "molink.core.jose": [
        "JWE_ALG",
        "JWE_ENC",
        "JWS_ALG",
        "CompactJws",
        "JweRecipientKey",
        "Random",
        "jwe_open",
        "jwe_seal",
        "jws_parse",
        "jws_sign",
    ],
    "molink.core.envelope": [
        "ENVELOPE_VERSION",
        "JWS_TYP",
        "ROUTED_FIELDS",
        "Directory",
        "Opened",
        "Routing",
        "SignedObject",
        "is_peer_fault",
        "open_envelope",
        "read_routing",
        "seal",
        "sign_and_seal",
        "sign_object",
        "verify_signed",
    ],
    "molink.core.receipt": ["RECEIPT_TYP", "Receipt", "make_receipt", "verify_receipt"],
    "molink.core.message": [
        "MAX_BODY_CHARS",
        "MAX_SUBJECT_CHARS",
        "ack_fields",
        "check_content",
        "message_fields",
    ],
    "molink.core.precedence": ["DEFAULT_ACK_DEADLINES", "Precedence"],
    "molink.core.dtg": ["format_dtg", "format_utc", "parse_dtg", "parse_utc"],
    "molink.core.ids": ["is_uuid", "uuid7"],
    "molink.core.keyfile": ["FORMAT", "decrypt_keyfile", "encrypt_keyfile"],
}


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_all_is_pinned(name: str) -> None:
    assert sorted(_module(name).__all__) == sorted(EXPORTS[name])


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_export_exists(name: str) -> None:
    module = _module(name)
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.{member}"


def _defined_at_top_level(module: ModuleType) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names - {"__all__"}


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_public_names_are_exported_or_underscored(name: str) -> None:
    """Every name a module defines is either in ``__all__`` or starts with ``_``."""
    module = _module(name)
    public = {n for n in _defined_at_top_level(module) if not n.startswith("_")}
    assert public <= set(module.__all__), f"{name}: public but not in __all__"


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_exported_classes_and_functions_are_defined_in_their_module(name: str) -> None:
    module = _module(name)
    for member in module.__all__:
        value = getattr(module, member)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == name, f"{name}.{member} re-exports {value.__module__}"
