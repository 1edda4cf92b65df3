//! Server tests against fake upstreams on port 0.
