//! The environment a client command runs in: every outside effect it may have goes through
//! one of these fields, so the real binary and the simulator differ only in what they put here.
//!
//! [`ClientEnv`] carries the network, clock, entropy and memory-locking seams of `hwa-core`,
//! the home directory (absent for a simulated host without one), the OS user, the variables of
//! the process environment, a [`Terminal`] and an [`AuthenticatorFactory`] that opens WebAuthn
//! devices. This module does not decide anything; the commands do.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use hwa_core::memlock::SharedLocker;
use hwa_core::{SharedClock, SharedEntropy, SharedNetwork};
use hwa_ssh::TermSize;
use serde_json::Value;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// Everything a command may touch outside its own memory.
pub struct ClientEnv {
    pub net: SharedNetwork,
    pub clock: SharedClock,
    pub entropy: SharedEntropy,
    pub locker: SharedLocker,
    /// The home directory, where session profiles live; `None` when there is none.
    pub home: Option<PathBuf>,
    /// The OS user of the terminal, the default Teleport-style user and SSH login (SPEC HL-02).
    pub os_user: String,
    /// Variables of the process environment (`HWA_PROXY`, `HWA_USER`, ...).
    pub vars: BTreeMap<String, String>,
    pub term: Box<dyn Terminal>,
    pub authenticators: Arc<dyn AuthenticatorFactory>,
}

impl fmt::Debug for ClientEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientEnv")
            .field("home", &self.home)
            .field("os_user", &self.os_user)
            .finish_non_exhaustive()
    }
}

impl ClientEnv {
    /// A variable of the process environment, `None` when unset or empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Writes a line on standard error, where every prompt and message for people goes.
    pub async fn say(&mut self, line: &str) -> io::Result<()> {
        self.term.err(&format!("{line}\n")).await
    }

    /// Writes a line on standard output, reserved for the command's result.
    pub async fn print(&mut self, line: &str) -> io::Result<()> {
        self.term.out(&format!("{line}\n")).await
    }
}

/// Standard input, output and error of a command.
#[async_trait]
pub trait Terminal: Send {
    async fn out(&mut self, text: &str) -> io::Result<()>;

    async fn err(&mut self, text: &str) -> io::Result<()>;

    /// One line of input without its line ending, or `None` at end of input.
    async fn read_line(&mut self) -> io::Result<Option<String>>;

    /// Reads a secret after showing `prompt` on standard error; a real terminal turns echo off.
    async fn read_secret(&mut self, prompt: &str) -> io::Result<Zeroizing<String>>;

    /// Keeps standard input for a remote session (`hwa ssh`): from now on a secret is asked on
    /// the controlling terminal, never read from standard input, where it would take the
    /// first line meant for the session. Terminals without streams have nothing to keep.
    fn keep_input_for_session(&mut self) {}

    /// Lends standard input, output and error to a remote session (`hwa ssh`) for as long as
    /// the returned value lives. With `want_tty`, when input and output are a real terminal,
    /// the terminal is put in raw mode until then and described in [`Attached::tty`].
    /// Terminals that only show prompts and messages (the simulator's, tests') have no
    /// streams to lend.
    fn attach(&mut self, _want_tty: bool) -> io::Result<Attached<'_>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this terminal has no streams to lend to a remote session",
        ))
    }
}

/// Standard streams lent to a remote session; see [`Terminal::attach`].
pub struct Attached<'a> {
    pub stdin: Box<dyn AsyncRead + Send + Unpin + 'a>,
    pub stdout: Box<dyn AsyncWrite + Send + Unpin + 'a>,
    pub stderr: Box<dyn AsyncWrite + Send + Unpin + 'a>,
    /// The local terminal, when the session has one.
    pub tty: Option<LocalTty>,
}

impl fmt::Debug for Attached<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attached").field("tty", &self.tty).finish_non_exhaustive()
    }
}

/// A local terminal in raw mode, lent to a remote shell: its type and size, its later sizes,
/// and how to put it back as it was, which happens when this is dropped.
pub struct LocalTty {
    /// The `TERM` value to give the remote PTY.
    pub term: String,
    pub size: TermSize,
    /// Every later size, as the window changes.
    pub resizes: Option<mpsc::Receiver<TermSize>>,
    restore: Option<Box<dyn FnOnce() + Send>>,
}

impl LocalTty {
    pub fn new(
        term: String,
        size: TermSize,
        resizes: Option<mpsc::Receiver<TermSize>>,
        restore: Box<dyn FnOnce() + Send>,
    ) -> LocalTty {
        LocalTty { term, size, resizes, restore: Some(restore) }
    }
}

impl Drop for LocalTty {
    fn drop(&mut self) {
        if let Some(restore) = self.restore.take() {
            restore();
        }
    }
}

impl fmt::Debug for LocalTty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalTty").field("term", &self.term).field("size", &self.size).finish()
    }
}

/// Longest line read from the terminal: an answer or a password, never more.
const LINE_MAX_BYTES: usize = 4096;

/// A terminal over any byte streams: in-memory pipes in tests and the simulator, real stdio in
/// the binary (which adds echo control for secrets).
pub struct IoTerminal {
    pub input: Box<dyn AsyncBufRead + Send + Unpin>,
    pub stdout: Box<dyn AsyncWrite + Send + Unpin>,
    pub stderr: Box<dyn AsyncWrite + Send + Unpin>,
}

impl IoTerminal {
    /// A terminal with no input whose output goes nowhere: for devices that ask nobody.
    pub fn silent() -> IoTerminal {
        IoTerminal {
            input: Box::new(tokio::io::BufReader::new(tokio::io::empty())),
            stdout: Box::new(tokio::io::sink()),
            stderr: Box::new(tokio::io::sink()),
        }
    }
}

impl fmt::Debug for IoTerminal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IoTerminal")
    }
}

#[async_trait]
impl Terminal for IoTerminal {
    async fn out(&mut self, text: &str) -> io::Result<()> {
        self.stdout.write_all(text.as_bytes()).await?;
        self.stdout.flush().await
    }

    async fn err(&mut self, text: &str) -> io::Result<()> {
        self.stderr.write_all(text.as_bytes()).await?;
        self.stderr.flush().await
    }

    async fn read_line(&mut self) -> io::Result<Option<String>> {
        let mut line = Zeroizing::new(String::new());
        let n = (&mut self.input).take(LINE_MAX_BYTES as u64).read_line(&mut line).await?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
    }

    async fn read_secret(&mut self, prompt: &str) -> io::Result<Zeroizing<String>> {
        self.err(prompt).await?;
        let line = self.read_line().await?;
        Ok(Zeroizing::new(line.unwrap_or_default()))
    }

    /// Byte streams are never a terminal; the binary's own terminal adds raw mode.
    fn attach(&mut self, _want_tty: bool) -> io::Result<Attached<'_>> {
        Ok(Attached {
            stdin: Box::new(&mut self.input),
            stdout: Box::new(&mut self.stdout),
            stderr: Box::new(&mut self.stderr),
            tty: None,
        })
    }
}

/// A WebAuthn device as a browser would drive it: creation and request options in the
/// WebAuthn JSON encoding in, a `PublicKeyCredential` in the same encoding out. `person` is the
/// terminal of whoever holds the device, for a security key's PIN.
#[async_trait]
pub trait WebauthnDevice: Send {
    async fn register(
        &mut self,
        creation_options: &Value,
        origin: &str,
        person: &mut dyn Terminal,
    ) -> Result<Value, String>;

    async fn authenticate(
        &mut self,
        request_options: &Value,
        origin: &str,
        person: &mut dyn Terminal,
    ) -> Result<Value, String>;
}

/// Which WebAuthn device a command uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceChoice {
    /// A software authenticator file (`--authenticator-file=KEY.json`).
    File(PathBuf),
    /// A USB security key: the one plugged in, or the one at this hidraw node
    /// (`--authenticator=usb[:PATH]`).
    SecurityKey(Option<PathBuf>),
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::File(path) => write!(f, "authenticator file {}", path.display()),
            DeviceChoice::SecurityKey(Some(path)) => write!(f, "security key {}", path.display()),
            DeviceChoice::SecurityKey(None) => f.write_str("the plugged-in security key"),
        }
    }
}

/// Opens WebAuthn devices. The real binary opens software authenticator files and USB
/// security keys; the simulator hands out authenticators of its own.
pub trait AuthenticatorFactory: Send + Sync + fmt::Debug {
    fn open(&self, choice: &DeviceChoice) -> Result<Box<dyn WebauthnDevice>, String>;
}

#[cfg(test)]
pub(crate) mod tests_support {
    //! A test environment: simulated clock, seeded entropy, a locker that always succeeds, no
    //! home directory, and a terminal with empty input whose output is discarded.

    use super::*;
    use hwa_core::clock::{SIM_EPOCH, SimClock};
    use hwa_core::entropy::SeededEntropy;
    use hwa_core::memlock::{SimLockBehaviour, SimLocker};
    use hwa_core::net::TokioNetwork;

    #[derive(Debug)]
    struct NoDevices;

    impl AuthenticatorFactory for NoDevices {
        fn open(&self, choice: &DeviceChoice) -> Result<Box<dyn WebauthnDevice>, String> {
            Err(format!("no authenticator in unit tests ({choice})"))
        }
    }

    /// A terminal that keeps what is written to standard error, for assertions.
    #[derive(Debug, Default, Clone)]
    pub(crate) struct Captured(pub(crate) Arc<std::sync::Mutex<String>>);

    impl Captured {
        pub(crate) fn text(&self) -> String {
            self.0.lock().map(|t| t.clone()).unwrap_or_default()
        }
    }

    #[async_trait]
    impl Terminal for Captured {
        async fn out(&mut self, _text: &str) -> io::Result<()> {
            Ok(())
        }

        async fn err(&mut self, text: &str) -> io::Result<()> {
            if let Ok(mut t) = self.0.lock() {
                t.push_str(text);
            }
            Ok(())
        }

        async fn read_line(&mut self) -> io::Result<Option<String>> {
            Ok(None)
        }

        async fn read_secret(&mut self, _prompt: &str) -> io::Result<Zeroizing<String>> {
            Ok(Zeroizing::new(String::new()))
        }
    }

    pub(crate) fn test_env() -> ClientEnv {
        ClientEnv {
            net: TokioNetwork::shared(),
            clock: SimClock::shared(SIM_EPOCH),
            entropy: SeededEntropy::shared(1),
            locker: Arc::new(SimLocker(SimLockBehaviour::Succeed)),
            home: None,
            os_user: "osuser".into(),
            vars: BTreeMap::new(),
            term: Box::new(IoTerminal::silent()),
            authenticators: Arc::new(NoDevices),
        }
    }
}
