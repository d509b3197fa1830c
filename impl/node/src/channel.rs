//! One SSH session channel on a node: what runs in it and how its bytes flow.
//!
//! A channel first collects its setup (`env`, `pty-req` when the certificate has
//! `permit-pty`, `window-change`) and then does one
//! piece of work: `exec` runs a command through the login's shell (`shell -c command`, as
//! OpenSSH does), `shell` starts the login shell, `subsystem sftp` starts SFTP. Classic `scp`
//! needs nothing special: a client's `scp -t PATH` or `scp -f PATH` is an `exec` that runs the
//! system's `scp` binary, exactly as under OpenSSH's sshd.
//!
//! Commands and shells run as the login's account (see [`crate::accounts`]), with a clean
//! environment: `HOME`, `USER`, `LOGNAME`, `SHELL`, `PATH`, `TERM` with a PTY, and the
//! variables the client sent that [`env_acceptable`] lets through.
//!
//! The replies to channel requests are sent by the russh callbacks in [`crate::server`]; this
//! module makes the same decisions (same functions) when it acts on them.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hwa_core::SharedClock;
use russh::server::Msg;
use russh::{Channel, ChannelMsg};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{debug, warn};

use crate::accounts::{Account, DEFAULT_PATH};
use crate::admission::Admitted;
use crate::audit::{AuditEvent, AuditKind, SharedAuditSink};
use crate::sftp::FsSftp;

/// Most environment variables a client may set on one channel.
pub const ENV_VARS_MAX: usize = 64;

/// Longest environment variable value accepted (names are bounded by [`ENV_NAME_MAX`]).
pub const ENV_VALUE_MAX: usize = 4096;

/// Longest environment variable name accepted.
pub const ENV_NAME_MAX: usize = 64;

/// How long output is still copied after the command exits, for output a background process
/// still holds open. OpenSSH waits forever here (the well-known hang of `ssh host 'cmd &'`);
/// a bound keeps a session from outliving its command indefinitely.
pub const OUTPUT_DRAIN_MAX: Duration = Duration::from_secs(2);

/// Where distributions install OpenSSH's SFTP server, used when a root node serves another
/// account (Debian and Ubuntu first, then Fedora and the BSDs).
const SFTP_SERVER_PATHS: &[&str] = &[
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/libexec/sftp-server",
];

/// Bytes buffered between the in-process SFTP server and its channel: two of the 32 KiB
/// packets OpenSSH clients send, so one can be parsed while the next arrives.
const SFTP_PIPE_BYTES: usize = 64 * 1024;

/// The subsystem name of SFTP.
pub const SFTP_SUBSYSTEM: &str = "sftp";

/// The SSH extended-data type of standard error (RFC 4254 section 5.2).
const SSH_EXTENDED_DATA_STDERR: u32 = 1;

/// Exit status reported when the command could not be started, as POSIX shells do.
const EXIT_NOT_STARTED: u32 = 127;

/// Offset added to a signal number to form an exit status, as POSIX shells do.
const EXIT_SIGNAL_BASE: u32 = 128;

/// Variables a client may not set: they define who and where the session is.
const PROTECTED_ENV: &[&str] = &["HOME", "USER", "LOGNAME", "SHELL", "PATH", "MAIL"];

/// Everything a channel needs to know about its SSH session.
#[derive(Debug)]
pub struct SessionContext {
    pub account: Account,
    pub admitted: Admitted,
    pub node: String,
    pub peer: SocketAddr,
    pub clock: SharedClock,
    pub audit: SharedAuditSink,
}

/// Whether a client may set `name` to `value`.
pub fn env_acceptable(name: &str, value: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= ENV_NAME_MAX
        && value.len() <= ENV_VALUE_MAX
        && !value.contains('\0')
        && !PROTECTED_ENV.contains(&name)
        // The dynamic loader's variables change what every program of the session loads.
        && !name.starts_with("LD_")
}

/// Whether SFTP can be offered to `account`: in process when the node runs as it, else
/// through the system's `sftp-server` when one is installed.
pub fn sftp_available(account: &Account) -> bool {
    account.is_node_user() || system_sftp_server().is_some()
}

fn system_sftp_server() -> Option<&'static Path> {
    SFTP_SERVER_PATHS.iter().map(Path::new).find(|p| p.is_file())
}

/// The terminal a client asked for.
#[derive(Clone, Debug)]
struct PtySpec {
    term: String,
    size: pty_process::Size,
}

enum Work {
    Exec(Vec<u8>),
    Shell,
    Subsystem(String),
}

/// Runs one session channel to its end.
pub async fn run(mut channel: Channel<Msg>, ctx: Arc<SessionContext>) {
    let mut env = BTreeMap::new();
    let mut pty = None;
    let work = loop {
        match channel.wait().await {
            Some(ChannelMsg::SetEnv { variable_name, variable_value, .. }) => {
                if env_acceptable(&variable_name, &variable_value) && env.len() < ENV_VARS_MAX {
                    env.insert(variable_name, variable_value);
                }
            }
            Some(ChannelMsg::RequestPty { term, col_width, row_height, .. }) => {
                // Refused (by the same rule) in the reply; the work then runs without one.
                if ctx.admitted.permit_pty {
                    pty = Some(PtySpec { term, size: term_size(col_width, row_height) });
                }
            }
            Some(ChannelMsg::WindowChange { col_width, row_height, .. }) => {
                if let Some(p) = pty.as_mut() {
                    p.size = term_size(col_width, row_height);
                }
            }
            Some(ChannelMsg::Exec { command, .. }) => break Work::Exec(command),
            Some(ChannelMsg::RequestShell { .. }) => break Work::Shell,
            Some(ChannelMsg::RequestSubsystem { name, .. }) => break Work::Subsystem(name),
            Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) | None => return,
            Some(_) => {}
        }
    };
    let (request, detail) = match &work {
        Work::Exec(cmd) => ("exec", String::from_utf8_lossy(cmd).into_owned()),
        Work::Shell => ("shell", String::new()),
        Work::Subsystem(name) => ("subsystem", name.clone()),
    };
    audit_channel(&ctx, request, detail);
    let account = &ctx.account;
    match work {
        Work::Exec(cmd) => {
            let args = vec![OsString::from("-c"), std::ffi::OsStr::from_bytes(&cmd).to_owned()];
            let launch = Launch::new(account, account.shell.clone(), None, args, &env, &pty);
            run_launch(channel, launch, pty).await;
        }
        Work::Shell => {
            let arg0 = format!("-{}", file_name(&account.shell));
            let launch =
                Launch::new(account, account.shell.clone(), Some(arg0), vec![], &env, &pty);
            run_launch(channel, launch, pty).await;
        }
        Work::Subsystem(name) if name == SFTP_SUBSYSTEM => run_sftp(channel, &ctx, &env).await,
        Work::Subsystem(name) => {
            debug!(target: "hwa_node", subsystem = %name, "unknown subsystem");
            let _ = channel.close().await;
        }
    }
}

async fn run_launch(channel: Channel<Msg>, launch: Launch, pty: Option<PtySpec>) {
    match pty {
        Some(pty) => run_on_pty(channel, launch, pty).await,
        None => run_piped(channel, launch).await,
    }
}

async fn run_sftp(channel: Channel<Msg>, ctx: &SessionContext, env: &BTreeMap<String, String>) {
    if ctx.account.is_node_user() {
        run_sftp_in_process(channel, ctx.account.home.clone()).await;
        return;
    }
    match system_sftp_server() {
        Some(path) => {
            let launch = Launch::new(&ctx.account, path.to_path_buf(), None, vec![], env, &None);
            run_piped(channel, launch).await;
        }
        None => {
            // The subsystem request was already refused; nothing was started.
            let _ = channel.close().await;
        }
    }
}

/// Serves SFTP from this process. The server talks to one end of an in-memory pipe and this
/// function relays between the other end and the channel, so that it learns when the server
/// finished and can report an exit status before closing, as sshd does (OpenSSH's `scp`
/// fails a transfer whose channel closes without one).
async fn run_sftp_in_process(channel: Channel<Msg>, home: PathBuf) {
    let (ours, theirs) = tokio::io::duplex(SFTP_PIPE_BYTES);
    russh_sftp::server::run(theirs, FsSftp::new(home)).await;
    let (from_server, mut to_server) = tokio::io::split(ours);
    let (mut read, write) = channel.split();
    let pump = tokio::spawn(copy_out(from_server, write.make_writer()));
    loop {
        match read.wait().await {
            Some(ChannelMsg::Data { data }) => {
                if to_server.write_all(&data).await.is_err() {
                    break;
                }
            }
            Some(ChannelMsg::Eof) | Some(ChannelMsg::Close) | None => break,
            Some(_) => {}
        }
    }
    // End of input ends the server, which closes its end of the pipe and so ends the pump.
    let _ = to_server.shutdown().await;
    drop(to_server);
    drain(vec![pump]).await;
    finish(&write, 0).await;
}

fn audit_channel(ctx: &SessionContext, request: &str, detail: String) {
    ctx.audit.record(AuditEvent {
        time: ctx.clock.now(),
        node: ctx.node.clone(),
        peer: ctx.peer,
        kind: AuditKind::ChannelStart {
            login: ctx.admitted.login.clone(),
            key_id: ctx.admitted.key_id.clone(),
            request: request.to_string(),
            detail,
        },
    });
}

/// A process to start for a channel, independent of how its input and output are wired.
struct Launch {
    program: PathBuf,
    arg0: Option<String>,
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    cwd: PathBuf,
    /// uid and gid to switch to, when the node runs as root and serves another account.
    switch: Option<(u32, u32)>,
}

impl Launch {
    fn new(
        account: &Account,
        program: PathBuf,
        arg0: Option<String>,
        args: Vec<OsString>,
        client_env: &BTreeMap<String, String>,
        pty: &Option<PtySpec>,
    ) -> Launch {
        let mut env: Vec<(String, OsString)> =
            client_env.iter().map(|(k, v)| (k.clone(), OsString::from(v))).collect();
        env.push(("HOME".into(), account.home.clone().into_os_string()));
        env.push(("USER".into(), account.name.clone().into()));
        env.push(("LOGNAME".into(), account.name.clone().into()));
        env.push(("SHELL".into(), account.shell.clone().into_os_string()));
        env.push(("PATH".into(), DEFAULT_PATH.into()));
        if let Some(pty) = pty {
            env.push(("TERM".into(), pty.term.clone().into()));
        }
        let cwd = if account.home.is_dir() { account.home.clone() } else { PathBuf::from("/") };
        let switch = account.needs_switch().then_some((account.uid, account.gid));
        Launch { program, arg0, args, env, cwd, switch }
    }
}

/// Runs a process with pipes for its standard streams: `exec` without a PTY, and the system
/// SFTP server.
async fn run_piped(channel: Channel<Msg>, launch: Launch) {
    let mut cmd = piped_command(&launch);
    let (mut read, write) = channel.split();
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            warn!(target: "hwa_node", program = %launch.program.display(), error = %e,
                "cannot start the session's process");
            let msg = format!("hwa-node: cannot start {}: {e}\n", launch.program.display());
            let _ = write.extended_data_bytes(SSH_EXTENDED_DATA_STDERR, msg.into_bytes()).await;
            finish(&write, EXIT_NOT_STARTED).await;
            return;
        }
    };
    let mut stdin = child.stdin.take();
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(tokio::spawn(copy_out(out, write.make_writer())));
    }
    if let Some(err) = child.stderr.take() {
        let writer = write.make_writer_ext(Some(SSH_EXTENDED_DATA_STDERR));
        pumps.push(tokio::spawn(copy_out(err, writer)));
    }
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            msg = read.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    if let Some(input) = stdin.as_mut()
                        && input.write_all(&data).await.is_err()
                    {
                        stdin = None;
                    }
                }
                Some(ChannelMsg::Eof) => stdin = None,
                Some(ChannelMsg::Close) | None => {
                    let _ = child.start_kill();
                    break child.wait().await;
                }
                Some(_) => {}
            },
        }
    };
    drop(stdin);
    drain(pumps).await;
    finish(&write, exit_code(status)).await;
}

fn piped_command(launch: &Launch) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&launch.program);
    cmd.args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(arg0) = &launch.arg0 {
        cmd.arg0(arg0);
    }
    if let Some((uid, gid)) = launch.switch {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

/// Runs a process on a fresh PTY: `shell`, and `exec` after a `pty-req`.
async fn run_on_pty(channel: Channel<Msg>, launch: Launch, spec: PtySpec) {
    let (mut read, write) = channel.split();
    let started = start_on_pty(&launch, &spec);
    let (mut child, pty) = match started {
        Ok(started) => started,
        Err(e) => {
            warn!(target: "hwa_node", error = %e, "cannot start the session on a pty");
            let msg = format!("hwa-node: cannot start a terminal session: {e}\r\n");
            let _ = write.data_bytes(msg.into_bytes()).await;
            finish(&write, EXIT_NOT_STARTED).await;
            return;
        }
    };
    let (pty_out, mut pty_in) = pty.into_split();
    let pumps = vec![tokio::spawn(copy_out(pty_out, write.make_writer()))];
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            msg = read.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    if pty_in.write_all(&data).await.is_err() {
                        debug!(target: "hwa_node", "pty closed while writing input");
                    }
                }
                Some(ChannelMsg::WindowChange { col_width, row_height, .. }) => {
                    if let Err(e) = pty_in.resize(term_size(col_width, row_height)) {
                        debug!(target: "hwa_node", error = %e, "pty resize failed");
                    }
                }
                Some(ChannelMsg::Close) | None => {
                    let _ = child.start_kill();
                    break child.wait().await;
                }
                Some(_) => {}
            },
        }
    };
    drop(pty_in);
    drain(pumps).await;
    finish(&write, exit_code(status)).await;
}

fn start_on_pty(
    launch: &Launch,
    spec: &PtySpec,
) -> Result<(tokio::process::Child, pty_process::Pty), pty_process::Error> {
    let (pty, pts) = pty_process::open()?;
    pty.resize(spec.size)?;
    let mut cmd = pty_process::Command::new(&launch.program)
        .args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.cwd)
        .kill_on_drop(true);
    if let Some(arg0) = &launch.arg0 {
        cmd = cmd.arg0(arg0);
    }
    if let Some((uid, gid)) = launch.switch {
        cmd = cmd.uid(uid).gid(gid);
        // The terminal belongs to the person using it, as sshd arranges: programs that
        // reopen or re-mode their terminal (`mesg`, `script`, `gpg`) need to own it.
        // devpts already gives it the `tty` group, which is left as it is.
        let owner = Some(nix::unistd::Uid::from_raw(uid));
        if let Err(e) = nix::unistd::fchown(&pts, owner, None) {
            warn!(target: "hwa_node", error = %e, "cannot give the terminal to the login");
        }
    }
    let child = cmd.spawn(pts)?;
    Ok((child, pty))
}

/// Copies a process's output to the channel. A PTY reports the end of its output as an
/// error (EIO once the last slave descriptor closes), so any read error ends the copy.
async fn copy_out<R, W>(mut from: R, mut to: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() || to.flush().await.is_err() {
            break;
        }
    }
}

async fn drain(pumps: Vec<tokio::task::JoinHandle<()>>) {
    for pump in pumps {
        let abort = pump.abort_handle();
        if tokio::time::timeout(OUTPUT_DRAIN_MAX, pump).await.is_err() {
            abort.abort();
        }
    }
}

async fn finish(write: &russh::ChannelWriteHalf<Msg>, code: u32) {
    let _ = write.exit_status(code).await;
    let _ = write.eof().await;
    let _ = write.close().await;
}

fn exit_code(status: std::io::Result<std::process::ExitStatus>) -> u32 {
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => u32::try_from(code).unwrap_or(EXIT_NOT_STARTED),
            (None, Some(sig)) => EXIT_SIGNAL_BASE + u32::try_from(sig).unwrap_or(0),
            (None, None) => EXIT_NOT_STARTED,
        },
        Err(_) => EXIT_NOT_STARTED,
    }
}

fn term_size(cols: u32, rows: u32) -> pty_process::Size {
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    pty_process::Size::new(clamp(rows), clamp(cols))
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "sh".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_loader_variables_cannot_be_set_by_clients() {
        assert!(env_acceptable("LANG", "C.UTF-8"));
        assert!(env_acceptable("LC_ALL", "C"));
        for name in ["HOME", "PATH", "USER", "LD_PRELOAD", "1BAD", "A-B", ""] {
            assert!(!env_acceptable(name, "x"), "{name} should be refused");
        }
        assert!(!env_acceptable("LANG", &"x".repeat(ENV_VALUE_MAX + 1)));
    }

    #[tokio::test]
    async fn a_root_node_starts_another_accounts_processes_with_its_ids() {
        if !nix::unistd::Uid::effective().is_root() {
            return; // only root can switch; a non-root node never needs to
        }
        let other = Account {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
            home: PathBuf::from("/"),
            shell: PathBuf::from("/bin/sh"),
        };
        let args = vec![OsString::from("-c"), OsString::from("id -u; id -g; id -G; echo $HOME")];
        let launch = Launch::new(&other, other.shell.clone(), None, args, &BTreeMap::new(), &None);
        let out = piped_command(&launch).output().await.unwrap();
        // No supplementary groups survive from root: `id -G` lists the primary group only.
        assert_eq!(String::from_utf8_lossy(&out.stdout), "65534\n65534\n65534\n/\n");
    }

    #[tokio::test]
    async fn a_root_node_gives_the_terminal_to_the_login() {
        if !nix::unistd::Uid::effective().is_root() {
            return;
        }
        let other = Account {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
            home: PathBuf::from("/"),
            shell: PathBuf::from("/bin/sh"),
        };
        let args = vec![OsString::from("-c"), OsString::from("stat -c OWNER=%u $(tty)")];
        let spec = PtySpec { term: "dumb".into(), size: term_size(80, 24) };
        let pty = Some(spec.clone());
        let launch = Launch::new(&other, other.shell.clone(), None, args, &BTreeMap::new(), &pty);
        let (mut child, pty) = start_on_pty(&launch, &spec).unwrap();
        let (mut out, _input) = pty.into_split();
        let mut screen = Vec::new();
        copy_out(&mut out, &mut screen).await;
        child.wait().await.unwrap();
        assert!(String::from_utf8_lossy(&screen).contains("OWNER=65534"), "{screen:?}");
    }

    #[test]
    fn signals_map_to_shell_style_exit_codes() {
        let killed = std::process::ExitStatus::from_raw(9);
        assert_eq!(exit_code(Ok(killed)), 137);
        let exited = std::process::ExitStatus::from_raw(3 << 8);
        assert_eq!(exit_code(Ok(exited)), 3);
    }
}
