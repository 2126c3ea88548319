//! Tables generated from the reference Python by
//! `scripts/gen-digest-tables.py` (see there).

#![allow(missing_docs)]

pub(crate) mod entities;
pub(crate) mod labels;
pub(crate) mod sbcs;
