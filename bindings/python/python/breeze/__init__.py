"""Breeze security core for Python.

Thin bindings over the Rust crates (breeze-crypto, breeze-authz, breeze-core,
breeze-agent-proto) through ``breeze-ffi``: the same functions, arguments and error codes as
the Node and WASM packages. Every error is a :class:`BreezeError` subclass with a stable
``.code`` and its ``.family``.
"""

from breeze._native import *  # noqa: F401,F403
from breeze._native import (  # noqa: F401
    AuditError,
    AuthzError,
    BreezeError,
    CredentialError,
    EnvelopeError,
    HttpsigError,
    InvalidInputError,
    JwtError,
    PasswordError,
    RecoveryCodeError,
    TotpError,
    WebhookError,
)

__version__ = "0.1.0"
