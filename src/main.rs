//! The `llm-gateway` binary: everything lives in the library; this maps its outcome to an exit
//! code (0 success, 1 error, 2 usage error).

fn main() -> std::process::ExitCode {
    llm_gateway::cli::main()
}
