//! `breeze-server` binary: see [`breeze_server::ops::cli`].

fn main() -> std::process::ExitCode {
    breeze_server::ops::cli::main()
}
