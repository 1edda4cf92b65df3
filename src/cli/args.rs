//! Argument shapes shared by several command groups (`list`, `show NAME`, `remove NAME`, ...),
//! so their flags and help read the same everywhere.

use clap::Args;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON list
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub name: String,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NameArg {
    pub name: String,
}
