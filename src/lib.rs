//! valve: a git hook and CI gate driven by personas in `.sage/valve.yml`.
//!
//! `check::run` is the engine (options in, `Report` out); the CLI, hooks
//! and CI are thin layers over it. This file lists the modules and maps a
//! command's outcome to an exit code; it holds no logic of its own.

pub mod cache;
pub mod changeset;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod date;
pub mod doctor;
pub mod error;
pub mod escape;
pub mod finding;
pub mod git;
pub mod hint;
pub mod history;
pub mod hook;
pub mod merge;
pub mod nested;
pub mod owners;
pub mod ownfile;
pub mod persona;
pub mod policy;
pub mod render;
pub mod ruleset;
pub mod scan;
pub mod schema;
pub mod severity;
pub mod shard;
pub mod stage;
pub mod suppress;
pub mod term;
pub mod watch;
pub mod yaml;

use std::ffi::OsString;
use std::io::IsTerminal;

use clap::Parser;

/// Exit codes of SPEC §4.
pub const EXIT_PASS: u8 = 0;
pub const EXIT_BLOCKED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Parses `args` and runs the command; returns the process exit code.
/// Callable from tests; only `main` exits.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> u8 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_PASS
            };
            let _ = e.print();
            return code;
        }
    };
    let color = term::use_color(cli.global.color, std::io::stderr().is_terminal());
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            commands::print_error(&e, color);
            EXIT_ERROR
        }
    }
}
