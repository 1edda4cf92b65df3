//! CLI tests: every command, with and without a running server.
