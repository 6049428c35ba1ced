"""Signing rollout evidence files with ``ROLLOUT_EVIDENCE_KEY`` (HMAC-SHA256).

The deployments of one product share one key, so a symmetric MAC is all that is needed: it is
in the standard library (no new dependency), the key is one string to set like any other
secret, and verifying costs nothing. Ed25519 would only pay off if importers must not be able to
sign, which is not the case here: every deployment both exports and imports.

The signature covers the file's canonical JSON (sorted keys, no spaces, everything but the
``signature`` block itself), so reformatting a file keeps it valid while changing any value
breaks it. ``key_id`` (a hash of the key, not the key) tells "signed with another key" apart
from "altered".
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings

from planners.rollouts.config import rollout_settings

ALGORITHM = "HMAC-SHA256"
SIGNATURE_FIELD = "signature"


class EvidenceSignatureError(Exception):
    """The file's signature cannot be trusted; the message says why, in one line."""


def key_id(key: str) -> str:
    return hashlib.sha256(b"planner-ops rollout evidence key:" + key.encode()).hexdigest()[:16]


def _canonical(data: dict[str, Any]) -> bytes:
    body = {name: value for name, value in data.items() if name != SIGNATURE_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(key: str, data: dict[str, Any]) -> str:
    return hmac.new(key.encode(), _canonical(data), hashlib.sha256).hexdigest()


def sign_evidence(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its signature block; unchanged (unsigned) when no key is configured."""
    key = rollout_settings.get().evidence_key
    if not key:
        return data
    signature = {"algorithm": ALGORITHM, "key_id": key_id(key), "value": _mac(key, data)}
    return {**data, SIGNATURE_FIELD: signature}


def check_signature(data: Any) -> bool:
    """Raise ``EvidenceSignatureError`` unless ``data`` may be trusted; True when signed.

    An unsigned file is accepted only on a dev deployment (where nothing is promoted from).
    """
    if not isinstance(data, dict):
        raise EvidenceSignatureError("Not a rollout evidence file: expected a JSON object.")
    signature = data.get(SIGNATURE_FIELD)
    here = settings.DEPLOY_ENVIRONMENT
    if signature is None:
        if here == "dev":
            return False
        raise EvidenceSignatureError(
            f"Unsigned evidence file: the {here} deployment imports only files signed with "
            "ROLLOUT_EVIDENCE_KEY (export it again on a deployment that has the key)."
        )
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        raise EvidenceSignatureError(
            f"Unknown signature: expected algorithm {ALGORITHM} in the file's signature block."
        )
    key = rollout_settings.get().evidence_key
    if not key:
        raise EvidenceSignatureError(
            "The file is signed but ROLLOUT_EVIDENCE_KEY is not set here: set the product's "
            "evidence key to check it."
        )
    if signature.get("key_id") != key_id(key):
        raise EvidenceSignatureError(
            f"Signed with another key (key id {signature.get('key_id')!r}, this deployment's "
            f"is {key_id(key)!r}): it does not come from a deployment of this product."
        )
    if not hmac.compare_digest(str(signature.get("value", "")), _mac(key, data)):
        raise EvidenceSignatureError(
            "Tampered evidence file: its contents do not match its signature."
        )
    return True
