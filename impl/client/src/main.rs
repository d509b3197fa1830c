//! The `hwa` binary: builds the real environment (tokio sockets, the system clock and random
//! generator, the operating system's memory locking, the terminal, `$HOME`, the OS user) and
//! hands the command line to [`hwa_client::run()`]. All behaviour lives in the library.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use hwa_client::device::LocalDevices;
use hwa_client::{Attached, ClientEnv, IoTerminal, LocalTty, Terminal};
use hwa_core::clock::SystemClock;
use hwa_core::entropy::OsEntropy;
use hwa_core::memlock::SystemLocker;
use hwa_core::net::TokioNetwork;
use hwa_ssh::TermSize;
use zeroize::Zeroizing;

fn main() -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            #[allow(clippy::print_stderr)] // no terminal seam exists before the runtime
            {
                eprintln!("error: cannot start the async runtime: {e}");
            }
            return ExitCode::from(hwa_client::run::EXIT_RUNTIME);
        }
    };
    let args: Vec<String> = std::env::args().collect();
    let env = real_env();
    let code = runtime.block_on(hwa_client::run(args, env));
    // A remote session may leave a read of standard input waiting on a blocking thread;
    // dropping the runtime would wait for it, so `hwa ssh` would hang until a key is pressed.
    runtime.shutdown_background();
    ExitCode::from(code)
}

fn real_env() -> ClientEnv {
    let vars: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("HWA_") && k != hwa_client::cli::SIMULATED_NETWORK_VAR)
        .collect();
    let entropy = OsEntropy::shared();
    ClientEnv {
        net: TokioNetwork::shared(),
        clock: SystemClock::shared(),
        entropy: entropy.clone(),
        locker: Arc::new(SystemLocker),
        home: std::env::var_os("HOME").filter(|h| !h.is_empty()).map(Into::into),
        os_user: os_user(),
        vars,
        term: Box::new(RealTerminal {
            io: IoTerminal {
                input: Box::new(tokio::io::BufReader::new(tokio::io::stdin())),
                stdout: Box::new(tokio::io::stdout()),
                stderr: Box::new(tokio::io::stderr()),
            },
            input_kept: false,
        }),
        authenticators: Arc::new(LocalDevices::new(entropy)),
    }
}

/// The OS user of the terminal: `USER`, then `LOGNAME`, then the password database.
fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(name) = std::env::var(var)
            && !name.is_empty()
        {
            return name;
        }
    }
    match nix::unistd::User::from_uid(nix::unistd::getuid()) {
        Ok(Some(user)) => user.name,
        _ => nix::unistd::getuid().to_string(),
    }
}

/// Logs go to standard error, quiet unless `HWA_LOG` asks (e.g. `HWA_LOG=debug`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HWA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Real stdio, with echo turned off while a secret is typed on a terminal.
struct RealTerminal {
    io: IoTerminal,
    /// Standard input belongs to a remote session; secrets come from `/dev/tty`.
    input_kept: bool,
}

#[async_trait]
impl Terminal for RealTerminal {
    async fn out(&mut self, text: &str) -> std::io::Result<()> {
        self.io.out(text).await
    }

    async fn err(&mut self, text: &str) -> std::io::Result<()> {
        self.io.err(text).await
    }

    async fn read_line(&mut self) -> std::io::Result<Option<String>> {
        self.io.read_line().await
    }

    async fn read_secret(&mut self, prompt: &str) -> std::io::Result<Zeroizing<String>> {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            let quiet = Quiet::new(&stdin)?;
            let secret = self.io.read_secret(prompt).await;
            let restored = quiet.restore();
            self.io.err("\n").await?;
            restored?;
            return secret;
        }
        if !self.input_kept {
            return self.io.read_secret(prompt).await;
        }
        let prompt = prompt.to_owned();
        tokio::task::spawn_blocking(move || secret_from_tty(&prompt))
            .await
            .map_err(std::io::Error::other)?
    }

    fn keep_input_for_session(&mut self) {
        self.input_kept = true;
    }

    fn attach(&mut self, want_tty: bool) -> std::io::Result<Attached<'_>> {
        let tty = if want_tty { raw_terminal()? } else { None };
        let mut attached = self.io.attach(false)?;
        attached.tty = tty;
        Ok(attached)
    }
}

/// A terminal with echo off until [`Quiet::restore`].
struct Quiet<'a, F: std::os::fd::AsFd> {
    fd: &'a F,
    saved: nix::sys::termios::Termios,
}

impl<'a, F: std::os::fd::AsFd> Quiet<'a, F> {
    fn new(fd: &'a F) -> std::io::Result<Self> {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        let saved = tcgetattr(fd).map_err(std::io::Error::from)?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(fd, SetArg::TCSANOW, &quiet).map_err(std::io::Error::from)?;
        Ok(Quiet { fd, saved })
    }

    fn restore(self) -> std::io::Result<()> {
        use nix::sys::termios::{SetArg, tcsetattr};
        tcsetattr(self.fd, SetArg::TCSANOW, &self.saved).map_err(std::io::Error::from)
    }
}

/// Asks for a secret on the controlling terminal, as OpenSSH asks for a passphrase when its
/// standard input carries data. Without a terminal the answer is an error that says so.
fn secret_from_tty(prompt: &str) -> std::io::Result<Zeroizing<String>> {
    use std::io::{BufRead, Write};
    let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "standard input carries the session's data, and there is no terminal to ask on \
                 ({e}); run the command from a terminal, or use a key that verifies its user \
                 without a PIN"
            ),
        )
    })?;
    let quiet = Quiet::new(&tty)?;
    let mut line = Zeroizing::new(String::new());
    let read = (&tty)
        .write_all(prompt.as_bytes())
        .and_then(|()| std::io::BufReader::new(&tty).read_line(&mut line));
    let restored = quiet.restore();
    (&tty).write_all(b"\n")?;
    read?;
    restored?;
    let secret = line.trim_end_matches(['\r', '\n']).to_owned();
    Ok(Zeroizing::new(secret))
}

/// The `TERM` a remote PTY gets when ours is unset: a terminal assumed to have no abilities.
const DEFAULT_TERM: &str = "dumb";

/// Puts the terminal in raw mode for a remote shell when standard input and output both are
/// one; `None` when they are not (a pipe, a file), and the shell then runs without a PTY.
fn raw_terminal() -> std::io::Result<Option<LocalTty>> {
    use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() || !std::io::stdout().is_terminal() {
        return Ok(None);
    }
    let saved = tcgetattr(&stdin)?;
    let size = window_size()?;
    let mut raw = saved.clone();
    raw.make_raw();
    tcsetattr(&stdin, OptionalActions::Now, &raw)?;
    let (watcher, resizes) = match watch_window() {
        Ok((task, rx)) => (Some(task), Some(rx)),
        Err(e) => {
            tracing::debug!(error = %e, "window size changes will not reach the remote terminal");
            (None, None)
        }
    };
    let restore = Box::new(move || {
        if let Some(task) = watcher {
            task.abort();
        }
        if let Err(e) = tcsetattr(std::io::stdin(), OptionalActions::Now, &saved) {
            tracing::warn!(error = %e, "cannot restore the terminal; run `reset`");
        }
    });
    let term = std::env::var("TERM").ok().filter(|t| !t.is_empty());
    let term = term.unwrap_or_else(|| DEFAULT_TERM.to_owned());
    Ok(Some(LocalTty::new(term, size, resizes, restore)))
}

/// The size of the terminal on standard output.
fn window_size() -> std::io::Result<TermSize> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout())?;
    Ok(TermSize { cols: u32::from(size.ws_col), rows: u32::from(size.ws_row) })
}

/// Reports the terminal's size each time the window changes (`SIGWINCH`).
fn watch_window()
-> std::io::Result<(tokio::task::JoinHandle<()>, tokio::sync::mpsc::Receiver<TermSize>)> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut changes = signal(SignalKind::window_change())?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let task = tokio::spawn(async move {
        while changes.recv().await.is_some() {
            let Ok(size) = window_size() else { continue };
            if tx.send(size).await.is_err() {
                break;
            }
        }
    });
    Ok((task, rx))
}
