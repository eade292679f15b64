//! Breeze credential hashing and crypto.
