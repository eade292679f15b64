//! Breeze RBAC: the permission registry, roles, access resolution, API-key scopes,
//! force-MFA and the AI tool risk policy (SPEC sections 1.1, 2.4, 3.3, 5 and 10).
//!
//! A pure library: no database and no web framework.
