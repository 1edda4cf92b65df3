//! The `llm-gateway` binary: everything lives in the library; this maps its outcome to an exit
//! code (0 success, 1 error, 2 usage error).

// glibc's allocator showed up as ~15% of the proxy's CPU under load; mimalloc's thread-local
// free lists suit tokio's many short-lived per-request allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    llm_gateway::cli::main()
}
