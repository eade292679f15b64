//! `breeze-agent`: the reference Breeze endpoint agent. Enrollment, heartbeat and the
//! command loop arrive with the agent issue; until then this binary only reports that.

fn main() -> std::process::ExitCode {
    eprintln!("breeze-agent: not built yet (see the agent issue)");
    std::process::ExitCode::FAILURE
}
