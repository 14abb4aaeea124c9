//! Signals as messages: a signal-hook thread turns each signal into a
//! [`Request`] on a crossbeam channel, so the training loop handles them
//! between blocks, never inside a signal handler.
//!
//! A second SIGINT/SIGTERM while the first is being honoured exits the
//! process at once with status 1 (signal-hook's conditional shutdown).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context;
use crossbeam_channel::{Receiver, Sender};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::{Handle, Signals};
use signal_hook::SigId;

/// What a signal asks of the training loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// SIGINT or SIGTERM: finish the blocks in flight, checkpoint, exit 0.
    Stop(&'static str),
    /// SIGHUP: checkpoint now and keep going.
    Checkpoint,
    /// SIGUSR1: print a status line on stderr.
    Status,
}

/// Exit status of a forced exit on the second stop signal.
pub const FORCED_EXIT_STATUS: i32 = 1;

/// Listens for signals while it lives; dropping it restores the default
/// behaviour.
#[derive(Debug)]
pub struct SignalListener {
    requests: Receiver<Request>,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
    registrations: Vec<SigId>,
}

impl SignalListener {
    /// Starts listening for SIGINT, SIGTERM, SIGHUP and SIGUSR1.
    pub fn start() -> anyhow::Result<SignalListener> {
        let stopping = Arc::new(AtomicBool::new(false));
        let mut registrations = Vec::new();
        for sig in [SIGINT, SIGTERM] {
            // Order matters: the shutdown check is registered first, so the
            // first signal finds the flag unset and only the second exits.
            registrations.push(
                signal_hook::flag::register_conditional_shutdown(
                    sig,
                    FORCED_EXIT_STATUS,
                    Arc::clone(&stopping),
                )
                .context("cannot install the signal handlers")?,
            );
            registrations.push(
                signal_hook::flag::register(sig, Arc::clone(&stopping))
                    .context("cannot install the signal handlers")?,
            );
        }
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1])
            .context("cannot install the signal handlers")?;
        let handle = signals.handle();
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("funkd-signals".into())
            .spawn(move || forward(&mut signals, &tx))
            .context("cannot start the signal thread")?;
        Ok(SignalListener {
            requests: rx,
            handle,
            thread: Some(thread),
            registrations,
        })
    }

    /// The channel of requests.
    pub fn requests(&self) -> &Receiver<Request> {
        &self.requests
    }
}

fn forward(signals: &mut Signals, tx: &Sender<Request>) {
    for sig in signals.forever() {
        let request = match sig {
            SIGINT => Request::Stop("SIGINT"),
            SIGTERM => Request::Stop("SIGTERM"),
            SIGHUP => Request::Checkpoint,
            SIGUSR1 => Request::Status,
            _ => continue,
        };
        if tx.send(request).is_err() {
            return;
        }
    }
}

impl Drop for SignalListener {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for id in self.registrations.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
