//! The `funkd` binary: parse, run, print the error chain once, exit 0/1/2.

use clap::Parser;

fn main() {
    let cli = funkd::cli::Cli::parse();
    if !matches!(cli.command, funkd::cli::Command::Serve(_)) {
        end_quietly_on_a_closed_pipe();
    }
    if let Err(err) = cli.run() {
        eprintln!("funkd: error: {}", funkd::error::render(&err));
        std::process::exit(funkd::error::exit_code(&err));
    }
}

/// `funkd inspect FILE | head` should end like any Unix filter when the
/// reader goes away, not panic in `println!`: SIGPIPE gets its default
/// action back (Rust ignores it). Not for `serve`, where a client that
/// hangs up must cost one connection, not the process.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_DFL at start-up, before
    // any thread is spawned, installs no handler and touches no memory.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
