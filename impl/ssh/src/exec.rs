//! Running one command on a node: `hwa ssh node command`.
//!
//! [`SshConnection::exec_streaming`] copies the command's output to the caller's writers as it
//! arrives and feeds it the caller's input; [`SshConnection::exec`] collects small outputs for
//! callers that want them whole. Both return the remote exit status.

use russh::ChannelMsg;
use russh::client::Msg;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::connect::SshConnection;
use crate::error::SshError;
use crate::shell::TermSize;

/// Most output [`SshConnection::exec`] collects before giving up: enough for any command
/// whose output a program would hold in memory; larger outputs should be streamed.
pub const EXEC_CAPTURE_MAX: usize = 16 * 1024 * 1024;

/// The SSH extended-data type of standard error (RFC 4254 section 5.2).
const SSH_EXTENDED_DATA_STDERR: u32 = 1;

/// How a remote command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(u32),
    /// It was killed by this signal (the SSH signal name, without `SIG`).
    Signal(String),
}

impl ExitStatus {
    /// The code a local process should exit with to mirror this one (128 + n for signals is
    /// not knowable from a name, so signals map to 255 as OpenSSH's client does).
    pub fn code(&self) -> u32 {
        match self {
            ExitStatus::Code(code) => *code,
            ExitStatus::Signal(_) => 255,
        }
    }
}

/// A finished command's collected output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: ExitStatus,
}

impl SshConnection {
    /// Runs `command` with empty input and collects its output (at most
    /// [`EXEC_CAPTURE_MAX`] bytes of each stream).
    pub async fn exec(&self, command: &str) -> Result<ExecOutput, SshError> {
        let mut stdout = BoundedBuf::default();
        let mut stderr = BoundedBuf::default();
        let status =
            self.exec_streaming(command, None::<tokio::io::Empty>, &mut stdout, &mut stderr).await;
        let status = status.map_err(|e| match e {
            SshError::Terminal(_) => SshError::OutputTooLarge { limit: EXEC_CAPTURE_MAX },
            other => other,
        })?;
        Ok(ExecOutput { stdout: stdout.0, stderr: stderr.0, status })
    }

    /// Runs `command`, feeding it `stdin` (or end-of-file at once when `None`) and copying its
    /// standard output and error to `stdout` and `stderr` as they arrive.
    pub async fn exec_streaming<I, O, E>(
        &self,
        command: &str,
        stdin: Option<I>,
        stdout: &mut O,
        stderr: &mut E,
    ) -> Result<ExitStatus, SshError>
    where
        I: AsyncRead + Unpin + Send,
        O: AsyncWrite + Unpin + Send,
        E: AsyncWrite + Unpin + Send,
    {
        let channel = self.open_session().await?;
        channel.exec(true, command.as_bytes()).await.map_err(SshError::Channel)?;
        pump(channel, stdin, stdout, Some(stderr), None, "exec").await
    }
}

/// Feeds `stdin` to the channel and copies what comes back to `stdout`/`stderr` until the
/// node closes the channel. Returns the exit status the node reported.
pub(crate) async fn pump<I, O, E>(
    channel: russh::Channel<Msg>,
    stdin: Option<I>,
    stdout: &mut O,
    mut stderr: Option<&mut E>,
    mut resize: Option<mpsc::Receiver<TermSize>>,
    request: &str,
) -> Result<ExitStatus, SshError>
where
    I: AsyncRead + Unpin + Send,
    O: AsyncWrite + Unpin + Send,
    E: AsyncWrite + Unpin + Send,
{
    let (mut read, write) = channel.split();
    let feed = async {
        if let Some(input) = stdin {
            write.data(input).await?;
        }
        write.eof().await
    };
    tokio::pin!(feed);
    let mut feeding = true;
    let mut status = None;
    loop {
        let msg = tokio::select! {
            fed = &mut feed, if feeding => {
                feeding = false;
                // The node may close before it read all input (`head -1`); that is not an
                // error of the command, so a failed feed only stops feeding.
                if let Err(e) = fed {
                    tracing::debug!(target: "hwa_ssh", error = %e, "input not fully sent");
                }
                continue;
            }
            size = next_size(&mut resize) => {
                match size {
                    Some(size) => {
                        write
                            .window_change(size.cols, size.rows, 0, 0)
                            .await
                            .map_err(SshError::Channel)?;
                    }
                    None => resize = None,
                }
                continue;
            }
            msg = read.wait() => msg,
        };
        match msg {
            Some(ChannelMsg::Data { data }) => {
                stdout.write_all(&data).await.map_err(SshError::Terminal)?;
                stdout.flush().await.map_err(SshError::Terminal)?;
            }
            Some(ChannelMsg::ExtendedData { data, ext }) if ext == SSH_EXTENDED_DATA_STDERR => {
                if let Some(err) = stderr.as_deref_mut() {
                    err.write_all(&data).await.map_err(SshError::Terminal)?;
                    err.flush().await.map_err(SshError::Terminal)?;
                }
            }
            Some(ChannelMsg::ExitStatus { exit_status }) => {
                status = Some(ExitStatus::Code(exit_status));
            }
            Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                status = Some(ExitStatus::Signal(format!("{signal_name:?}")));
            }
            Some(ChannelMsg::Failure) => {
                return Err(SshError::RequestRefused { request: request.to_string() });
            }
            Some(ChannelMsg::Close) | None => break,
            Some(_) => {}
        }
    }
    status.ok_or(SshError::NoExitStatus)
}

/// The next size change, or never when there is no resize source.
async fn next_size(resize: &mut Option<mpsc::Receiver<TermSize>>) -> Option<TermSize> {
    match resize {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// An in-memory writer that refuses to grow past [`EXEC_CAPTURE_MAX`].
#[derive(Default)]
struct BoundedBuf(Vec<u8>);

impl AsyncWrite for BoundedBuf {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.0.len() + buf.len() > EXEC_CAPTURE_MAX {
            return std::task::Poll::Ready(Err(std::io::Error::other("output too large")));
        }
        this.0.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
