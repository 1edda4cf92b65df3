//! The command line: clap `*Args` types, one file per command group.

use std::process::ExitCode;

pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
