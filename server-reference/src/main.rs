//! `breeze-server`: the reference Breeze server. The HTTP, WebSocket and PostgreSQL
//! layers arrive with the server issue; until then this binary only reports that.

fn main() -> std::process::ExitCode {
    eprintln!(
        "breeze-server: not built yet (see the server-reference issue); run scripts/run for the crypto tour"
    );
    std::process::ExitCode::FAILURE
}
