//! The one integration-test binary. Topical modules below; shared fakes and the spawner of the
//! real binary in `support`.

mod cli;
mod server;
mod support;
