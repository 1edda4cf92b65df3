//! Settings: the `config.toml` schema ([`file`]), every environment variable ([`env`]), the home
//! folder layout ([`paths`]), provider endpoints ([`endpoints`]) and byte sizes written with a
//! unit ([`size`]). Precedence everywhere:
//! flag > env > file > default.

pub mod endpoints;
pub mod env;
pub mod file;
pub mod paths;
pub mod size;

pub use endpoints::{Endpoint, ProviderKind};
pub use file::Config;
