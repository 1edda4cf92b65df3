//! The one integration-test binary. Topical modules below; shared fakes and the spawner of the
//! real binary in `support`.

// Test code may panic on a broken fixture: that is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod cli;
mod e2e;
mod oauth;
mod server;
mod support;
mod translate;
