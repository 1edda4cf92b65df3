//! Settings: the `config.toml` schema ([`file`]), every environment variable ([`env`]), the home
//! folder layout ([`paths`]), provider endpoints ([`endpoints`]), byte sizes written with a
//! unit ([`size`]), what a running server reloads ([`live`]) and in-place edits of the file
//! ([`edit`]). Precedence everywhere:
//! flag > env > file > default.

pub mod edit;
pub mod endpoints;
pub mod env;
pub mod file;
pub mod live;
pub mod paths;
pub mod size;

pub use endpoints::{Endpoint, ProviderKind};
pub use file::Config;
