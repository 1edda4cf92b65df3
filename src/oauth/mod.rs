//! oauth (to be written).
