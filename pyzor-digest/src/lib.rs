//! # pyzor-digest
//!
//! The Pyzor message digest, byte-identical to pyzor 1.1.2. Not implemented
//! yet: this crate is a placeholder in the workspace until its issue lands,
//! and exposes nothing.
