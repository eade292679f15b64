//! Breeze agent wire protocol (SPEC section 8): every message between agent and server.
