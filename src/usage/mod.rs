//! usage (to be written).
