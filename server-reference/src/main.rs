//! `breeze-server` binary: see [`breeze_server::cli`].

fn main() -> std::process::ExitCode {
    breeze_server::cli::main()
}
