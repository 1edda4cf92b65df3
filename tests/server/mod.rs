//! Server tests against fake upstreams on port 0, driving the in-process `server::serve`
//! (`hostile`: the real binary, over raw sockets).

mod auth;
mod cors;
mod errors;
mod fast_path;
mod health;
mod hostile;
mod lifecycle;
mod malformed;
mod model_names;
mod probe;
mod rebinding;
mod responses;
mod routing;
mod timing;
mod ws;
