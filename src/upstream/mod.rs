//! upstream (to be written).
