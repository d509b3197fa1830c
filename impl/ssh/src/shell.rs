//! The login's shell: `hwa ssh node` without a command.
//!
//! On a terminal the shell runs on a pseudo-terminal: the caller owns the local terminal (raw
//! mode, reading its size, forwarding SIGWINCH); this module sends the terminal type and size,
//! the keystrokes and size changes, and copies the screen output back. With a PTY the node
//! merges standard error into the one output stream. Without a terminal (input from a pipe or
//! a file) the shell reads its commands from that input, as OpenSSH's `ssh host < script` does.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::connect::SshConnection;
use crate::error::SshError;
use crate::exec::{ExitStatus, pump};

/// A terminal size in character cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TermSize {
    pub cols: u32,
    pub rows: u32,
}

/// What the node needs to allocate a PTY.
#[derive(Clone, Debug)]
pub struct PtyRequest {
    /// The `TERM` value, e.g. `xterm-256color`.
    pub term: String,
    pub size: TermSize,
}

impl SshConnection {
    /// Starts the login's shell on a PTY, feeds it `stdin`, copies its output to `stdout` and
    /// forwards every size sent on `resize`, until the shell exits.
    pub async fn shell_with_pty<I, O>(
        &self,
        pty: &PtyRequest,
        stdin: I,
        stdout: &mut O,
        resize: Option<mpsc::Receiver<TermSize>>,
    ) -> Result<ExitStatus, SshError>
    where
        I: AsyncRead + Unpin + Send,
        O: AsyncWrite + Unpin + Send,
    {
        let channel = self.open_session().await?;
        let size = pty.size;
        channel
            .request_pty(true, &pty.term, size.cols, size.rows, 0, 0, &[])
            .await
            .map_err(SshError::Channel)?;
        channel.request_shell(true).await.map_err(SshError::Channel)?;
        pump(channel, Some(stdin), stdout, None::<&mut tokio::io::Sink>, resize, "shell").await
    }

    /// Starts the login's shell without a PTY, feeding it `stdin` and copying its standard
    /// output and error as they arrive, until the shell exits.
    pub async fn shell<I, O, E>(
        &self,
        stdin: I,
        stdout: &mut O,
        stderr: &mut E,
    ) -> Result<ExitStatus, SshError>
    where
        I: AsyncRead + Unpin + Send,
        O: AsyncWrite + Unpin + Send,
        E: AsyncWrite + Unpin + Send,
    {
        let channel = self.open_session().await?;
        channel.request_shell(true).await.map_err(SshError::Channel)?;
        pump(channel, Some(stdin), stdout, Some(stderr), None, "shell").await
    }
}
