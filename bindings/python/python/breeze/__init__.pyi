"""Typed stub for the ``breeze`` package (checked in; keep in step with bindings/python/src/lib.rs)."""

from typing import Any, Dict, List, Optional, Union

__version__: str

Json = Any
"""A JSON-shaped value (dict, list, str, int, float, bool or None)."""
Text = Union[str, bytes]
"""A ``str``, or ``bytes`` holding UTF-8."""

class BreezeError(Exception):
    """Base of every Breeze error."""

    code: str
    """Stable machine code, e.g. ``bad_signature``, ``credential_malformed``."""
    family: str
    """``input``, ``password``, ``credential``, ``envelope``, ``jwt``, ``totp``, ``recovery``, ``authz``, ``audit``, ``webhook`` or ``httpsig``."""

class InvalidInputError(BreezeError): ...
class PasswordError(BreezeError): ...
class CredentialError(BreezeError): ...
class EnvelopeError(BreezeError): ...
class JwtError(BreezeError): ...
class TotpError(BreezeError): ...
class RecoveryCodeError(BreezeError): ...
class AuthzError(BreezeError): ...
class AuditError(BreezeError): ...
class WebhookError(BreezeError): ...
class HttpsigError(BreezeError): ...

# Passwords (Argon2id, m = 64 MiB, t = 3, p = 4)
def password_hash(password: Text) -> str: ...
def password_hash_with_salt(password: Text, salt_hex: str) -> str:
    """Known-answer tests only: real hashes use :func:`password_hash`."""
def password_verify(password: Text, phc: str) -> bool: ...
def password_needs_rehash(phc: str) -> bool: ...
def password_policy_check(password: Text) -> List[str]:
    """Codes of every broken rule; empty when the password passes."""

# Credentials. kind: agent_token, api_key, session_token, password_reset_token,
# enrollment_key (and agent_id for generate); peppered kinds: enrollment_key, recovery_code.
def credential_generate(kind: str) -> Dict[str, Optional[str]]:
    """``{"value": <secret, show once>, "hash": <sha-256 hex to store, None for agent_id>}``."""
def credential_hash(kind: str, value: Text) -> str: ...
def credential_verify(kind: str, value: Text, stored_hash: str) -> bool: ...
def credential_peppered_hash(kind: str, pepper: Text, value: Text) -> str: ...
def credential_verify_peppered(kind: str, pepper: Text, value: Text, stored_hash: str) -> bool: ...
def recovery_codes_generate() -> List[str]: ...
def recovery_code_normalize(code: Text) -> str: ...

# Secrets at rest. ring: {"keys": {"<id>": "<key>"}, "active": "<id>", "legacyKey": "<key>"?}
def secret_encrypt(ring: Dict[str, Any], table: str, column: str, plaintext: Text) -> str: ...
def secret_decrypt(ring: Dict[str, Any], table: str, column: str, value: str) -> str: ...
def secret_decrypt_for_migration(ring: Dict[str, Any], table: str, column: str, value: str) -> str: ...
def secret_reencrypt(ring: Dict[str, Any], table: str, column: str, value: str) -> Dict[str, Any]:
    """``{"value": str, "changed": bool}``."""
def secret_version(value: str) -> str: ...
def mfa_encrypt(mfa_key: Text, plaintext: Text) -> str: ...
def mfa_decrypt(mfa_key: Text, value: str) -> str: ...

# JWT (HS256). ring: {"keys": {"<kid>": "<secret>"}, "active": "<kid>" | None, "legacySecret": "<secret>"?}
def jwt_sign(ring: Dict[str, Any], claims: Dict[str, Any]) -> str: ...
def jwt_verify(ring: Dict[str, Any], token: str, expected: str, now: int) -> Dict[str, Any]:
    """``expected`` is ``access`` or ``refresh``; ``now`` unix seconds; returns the claims."""

# TOTP (RFC 6238: 6 digits, 30 s, one step of skew)
def totp_generate_secret() -> str: ...
def totp_code(secret_base32: str, unix: int) -> str: ...
def totp_verify(secret_base32: str, code: str, unix: int) -> int:
    """The matched time step (store it to refuse replays)."""
def totp_otpauth_uri(secret_base32: str, email: str) -> str: ...
def totp_rfc6238_code(secret: bytes, unix: int, digits: int) -> str: ...

# Authorization
def permission_check(role: str, permission: str) -> bool:
    """Whether the seeded role named ``role`` grants ``permission`` (``resource:action``)."""
def role_allows(role: Dict[str, Any], permission: str) -> bool: ...
def role_validate(role: Dict[str, Any]) -> None: ...
def grant_matches(grant: str, permission: str) -> bool: ...
def permission_registry() -> List[str]: ...
def seeded_roles() -> List[Dict[str, Any]]: ...
def api_key_scopes_allow(scopes: List[str], permission: str) -> bool: ...
def api_key_check(status: str, expires_at: Optional[str], now: str) -> None:
    """Raises :class:`AuthzError` ``api_key_revoked`` / ``api_key_expired``; times are RFC 3339."""
def risk_catalogue() -> List[Dict[str, str]]: ...
def risk_decide(tool: str, target: Dict[str, Any], policies: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]: ...
def approval_argument_digest(tool: str, arguments_json: Union[str, bytes]) -> str:
    """The digest an AI approval binds (SPEC 14): 64 lowercase hex.

    ``arguments_json`` is the JSON text of the arguments object exactly as sent (key order
    and whitespace do not matter; ``1`` and ``1.0`` differ). Raises :class:`AuthzError`
    ``invalid_arguments`` for text that is not a JSON object, nests deeper than 16 or is
    larger than 32 KiB in canonical form.
    """
def ai_scope_named(scopes: List[str], scope: str) -> bool:
    """Whether the key's scopes name ``scope`` (``ai:read``/``ai:write``/``ai:execute``) exactly; wildcards never do."""
def ai_tools() -> List[Dict[str, str]]:
    """The MCP tools: ``[{"name", "scope", "permission", "level"}]``, sorted by name."""
def mfa_enrollment_required(role_requires_mfa: bool, mfa_enrolled: bool, path: str) -> bool: ...
def session_check(user: Dict[str, Any], token: Dict[str, Any]) -> None:
    """Whether a verified token still belongs to a live session (SPEC 2.2).

    ``user``: ``{"active", "auth_epoch", "mfa_epoch", "password_changed_at" (unix seconds),
    "mfa_enabled"}``; ``token``: ``{"aep", "mep", "iat", "mfa"}`` (the claims ``jwt_verify``
    returns can be passed as is). Raises :class:`AuthzError`, checks in this order:
    ``invalid_token``, ``session_revoked``, ``password_changed``, ``mfa_required``.
    """

# Audit chain. keys: [{"key_id": str, "public_key": <64 hex>}]
def audit_entry_hashes(entry: Dict[str, Any]) -> Dict[str, Any]:
    """``{"canonical_hex", "content_hash", "chain_hash", "seal_valid"}``."""
def audit_verify_chain(chain: str, entries: List[Dict[str, Any]], keys: List[Dict[str, str]]) -> Dict[str, Any]:
    """``{"ok": True, ...}`` or ``{"ok": False, "break": {"kind", "chain", "sequence", "detail"}}``."""
def audit_verify_stream(chain: str, entries: List[Dict[str, Any]], keys: List[Dict[str, str]]) -> Dict[str, Any]:
    """A segment of a chain as received through ``audit.appended`` webhooks: the first entry is trusted
    to link to what came before it, every later one must follow without a hole (a missing entry is
    ``entry_removed`` at its sequence). Same verdict as :func:`audit_verify_chain`."""
def audit_verify_bundle(
    bundle: Text,
    trusted_keys: Optional[List[Dict[str, str]]] = None,
    trusted_checkpoints: Optional[List[Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """The bundle report: ``ok``, counts, head, or ``break`` (``kind``, ``sequence``, ``line``, ``detail``)."""
def audit_verify_checkpoint(checkpoint: Dict[str, Any], keys: List[Dict[str, str]]) -> None: ...
def audit_sanitize_details(details: Json) -> Json: ...

# Agent protocol
def agent_message_kinds() -> List[str]: ...
def agent_decode(kind: str, input: Text) -> Dict[str, Any]:
    """``{"valid": True, "message", "dropped"}`` or ``{"valid": False, "error", "issues", "totalIssues", ...}``."""
def agent_decode_binary(input: bytes) -> Dict[str, Any]: ...
def agent_schema(kind: str) -> Dict[str, Any]: ...
def agent_redact_secrets(output: Text) -> str:
    """Command output with PEM private-key blocks and agent tokens replaced, as the server stores it (SPEC 8.5)."""
def agent_check_remote_path(path: Text) -> Optional[str]:
    """``None`` when a remote file path obeys the SPEC 12 rule, else the code of the first rule broken
    (``path_empty``, ``path_too_long``, ``path_nul``, ``path_relative``, ``path_dot_dot``)."""
def agent_file_content_verify(content_base64: Text, sha256: str, size: Optional[int] = None) -> Dict[str, Any]:
    """``{"ok": True}`` when base64 content matches its SHA-256 (and size), else ``{"ok": False, "code"}``
    with ``content_invalid``, ``file_too_large`` (over 4 MiB) or ``digest_mismatch``."""

# Webhooks (SPEC 13, Standard Webhooks). Secrets are ``whsec_`` + base64 of 24 to 64 bytes.
# Errors: :class:`WebhookError` with codes ``secret_format``, ``secret_length``, ``no_secret``,
# ``message_id``, ``timestamp_invalid``, ``timestamp_too_old``, ``timestamp_too_new``,
# ``signature_header``, ``no_matching_signature``, ``unknown_event``, ``data_not_object``,
# ``undocumented_field``.
def webhook_sign(secrets: List[str], msg_id: str, timestamp: int, body: Text) -> str:
    """The ``webhook-signature`` header: ``v1,<base64 HMAC-SHA256>`` per secret, space separated."""
def webhook_verify(
    secrets: List[str],
    msg_id: str,
    timestamp: str,
    signature: str,
    body: Text,
    now: int,
    tolerance: Optional[int] = None,
) -> None:
    """Checks a delivery from its ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
    headers and raw body: any ``v1`` signature matching any secret, the timestamp within
    ``tolerance`` seconds (default 300) of ``now`` (unix seconds). Raises :class:`WebhookError`."""
def webhook_generate_secret() -> str:
    """A new secret (``whsec_`` + base64 of 32 random bytes): show it once, store it encrypted."""
def webhook_event_catalogue() -> List[Dict[str, Any]]:
    """``[{"type", "subscribable", "dataFields"}]``: the closed list of event types."""
def webhook_payload(event_type: str, timestamp_rfc3339: str, org_id: str, data: Dict[str, Any]) -> str:
    """The delivery body ``{"type","timestamp","orgId","data"}`` (compact JSON, timestamp in UTC to
    the second); refuses keys of ``data`` outside the event's ``dataFields``."""

# HTTP message signatures of agent requests (SPEC 17: RFC 9421 ``ed25519`` over ``@method``,
# ``@target-uri`` and, with a body, ``content-digest`` (RFC 9530, ``sha-256``); ``created``,
# ``nonce``, ``keyid``, ``alg``; label ``sig1``). Keys are unpadded base64url of 32 bytes (the
# private half is the seed). ``body`` is the raw body (``bytes``, or ``str`` sent as UTF-8).
# Errors: :class:`HttpsigError` with codes ``private_key_invalid``, ``public_key_invalid``,
# ``random_unavailable``, ``signature_missing``, ``signature_malformed``,
# ``signature_label_missing``, ``signature_components``, ``signature_params``,
# ``signature_algorithm``, ``signature_keyid``, ``signature_expired``, ``signature_from_future``,
# ``signature_nonce``, ``content_digest_missing``, ``content_digest_mismatch``,
# ``signature_invalid``.
def httpsig_generate_key() -> Dict[str, str]:
    """A new key pair ``{"seed", "publicKey"}``: keep the seed on the device only."""
def httpsig_public_key(seed: Text) -> str:
    """The public key of a seed."""
def httpsig_content_digest(body: Union[bytes, str]) -> str:
    """The ``Content-Digest`` field value of a body: ``sha-256=:<base64>:``."""
def httpsig_sign(
    seed: Text,
    method: str,
    target_uri: str,
    body: Union[bytes, str],
    keyid: str,
    created: int,
    nonce: Optional[str] = None,
) -> Dict[str, Optional[str]]:
    """Signs a request as an agent does: ``{"contentDigest" (None without a body), "signatureInput",
    "signature"}``, the fields to send. ``nonce`` None: a random one (24 bytes, base64url)."""
def httpsig_verify(
    public_key: str,
    method: str,
    target_uri: str,
    body: Union[bytes, str],
    headers: Dict[str, Optional[str]],
    label: str,
    keyid: str,
    now: int,
) -> Dict[str, Any]:
    """Verifies signature ``label`` of a received request as the server does and returns
    ``{"created", "nonce"}`` (check the nonce was not seen in the last 330 s). ``headers`` holds the
    received ``contentDigest``, ``signatureInput`` and ``signature`` (absent or None when missing;
    other keys are refused): :func:`httpsig_sign`'s result has that shape. ``created`` must lie
    within 300 s before and 30 s after ``now``. Raises :class:`HttpsigError` with the first failed check."""
