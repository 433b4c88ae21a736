//! Process boundary: run valve and turn its outcome into an exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(valve::main_with_args(std::env::args_os()))
}
