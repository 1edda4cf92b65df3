//! Claude Code-shaped traffic against translated upstreams.
