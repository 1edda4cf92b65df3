//! Settings: the `config.toml` schema ([`file`]), every environment variable ([`env`]), the home
//! folder layout ([`paths`]) and provider endpoints ([`endpoints`]). Precedence everywhere:
//! flag > env > file > default.

pub mod endpoints;
pub mod env;
pub mod file;
pub mod paths;

pub use endpoints::{Endpoint, ProviderKind};
pub use file::Config;
