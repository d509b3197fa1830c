//! The `hwa` command line and its resolution against environment variables (SPEC HL-01,
//! HL-02, HL-06): what command runs, as which user, against which proxy, with which login
//! method and memory-locking mode.
//!
//! Flags win over variables: `--proxy`/`HWA_PROXY`, `--user`/`HWA_USER` (default: the OS
//! user, which the client then names), `--headless`/`HWA_HEADLESS`/`--auth=headless`,
//! `--mlock`/`HWA_MLOCK_MODE`, `--skip-confirm`/`HWA_HEADLESS_SKIP_CONFIRM`. Headless login is
//! only for `ls`, `ssh` and `scp`; every other command refuses it rather than falling back.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use hwa_core::id::RequestId;
use hwa_core::memlock::MlockMode;

use crate::approve::{ApproveParams, WatchParams};
use crate::env::{ClientEnv, DeviceChoice};
use crate::error::ClientError;
use crate::http::Trust;
use crate::nodes::{ListParams, LoginChoice, parse_labels};
use crate::profile::ProfileStore;
use crate::proxy_url::ProxyUrl;
use crate::remote::RemoteCluster;
use crate::session::{LoginParams, SignupParams};

/// The `--auth` value that selects headless login.
pub const HEADLESS_AUTH: &str = "headless";

/// Simulator only: with this variable set to `1` in [`ClientEnv::vars`], the proxy is spoken to
/// with [`Trust::SimulatedNetwork`] (plain HTTP over the simulator's network). The conformance
/// suite sets it to run this command-line code inside the simulator. The `hwa` binary removes
/// it from the process environment, so no real invocation can select plain HTTP with it.
pub const SIMULATED_NETWORK_VAR: &str = "HWA_SIMULATED_NETWORK";

#[derive(Debug, Parser)]
#[command(
    name = "hwa",
    version,
    about = "Log in and reach nodes, also from machines without a security key"
)]
pub struct Cli {
    /// The proxy, `host[:port]` or `https://host[:port]` (env HWA_PROXY).
    #[arg(long, global = true)]
    pub proxy: Option<String>,
    /// The user to log in as (env HWA_USER; default: the OS user).
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// Log in headlessly, approving from another device (env HWA_HEADLESS=1); ls, ssh, scp only.
    #[arg(long, global = true)]
    pub headless: bool,
    /// Login method: `headless`, or another connector name for the session profile.
    #[arg(long, global = true)]
    pub auth: Option<String>,
    /// Memory locking: off, auto, best_effort or strict (env HWA_MLOCK_MODE; default auto).
    #[arg(long, global = true)]
    pub mlock: Option<String>,
    /// Accept any TLS certificate from the proxy. Development only: anyone on the path can
    /// impersonate the proxy.
    #[arg(long, global = true)]
    pub insecure: bool,
    /// A software authenticator file (JSON) to use as the WebAuthn device.
    #[arg(long = "authenticator-file", global = true, value_name = "KEY.json")]
    pub authenticator_file: Option<PathBuf>,
    /// The WebAuthn device: `usb` (the one USB security key plugged in; the default without
    /// --authenticator-file), `usb:/dev/hidrawN` (that key), or `file` (--authenticator-file).
    #[arg(long, global = true)]
    pub authenticator: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the nodes you may reach: `hwa ls [label=value...]`.
    Ls {
        /// Show only nodes with these labels.
        labels: Vec<String>,
    },
    /// Run a command or a shell on a node.
    Ssh {
        /// The SSH login (default: from login@host, else the OS user).
        #[arg(long, short = 'l')]
        login: Option<String>,
        /// `[login@]host`.
        target: String,
        /// The command to run; none opens a shell.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Copy files to, from or between nodes.
    Scp {
        /// Copy directories recursively.
        #[arg(short = 'r')]
        recursive: bool,
        /// Sources, then the destination.
        #[arg(required = true, num_args = 2..)]
        paths: Vec<String>,
    },
    /// Log in with password and authenticator; saves a session profile.
    Login,
    /// Accept an invite: set a password and register the authenticator.
    Signup {
        /// The URL `hwactl users add` printed.
        invite_url: String,
    },
    /// Approve headless requests.
    Headless {
        #[command(subcommand)]
        command: HeadlessCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum HeadlessCommand {
    /// Show a request and approve or deny it.
    Approve {
        /// Approve without asking (env HWA_HEADLESS_SKIP_CONFIRM=1).
        #[arg(long)]
        skip_confirm: bool,
        /// The request ID the waiting client printed.
        id: String,
    },
    /// Watch for your new requests and approve or reject each, like a desktop companion.
    Watch,
}

/// A command ready to run, with everything resolved.
#[derive(Debug)]
pub enum Invocation {
    /// Help or version text for standard output.
    Help(String),
    Ls(ListParams),
    Ssh {
        login: String,
        host: String,
        command: Vec<String>,
        cluster: RemoteCluster,
    },
    Scp {
        recursive: bool,
        paths: Vec<String>,
        cluster: RemoteCluster,
    },
    Login(LoginParams),
    Signup(SignupParams),
    Approve(ApproveParams),
    Watch(WatchParams),
}

/// The resolution of a command line: what to run and what to say first on standard error.
#[derive(Debug)]
pub struct Resolved {
    pub invocation: Invocation,
    pub notes: Vec<String>,
}

/// Parses `args` (the program name first) against the variables and OS user of `env`.
pub fn resolve(args: &[String], env: &ClientEnv) -> Result<Resolved, ClientError> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Ok(Resolved {
                    invocation: Invocation::Help(e.render().to_string()),
                    notes: Vec::new(),
                }),
                _ => Err(ClientError::Usage(usage_text(&e))),
            };
        }
    };
    Resolver { cli: &cli, env, notes: Vec::new() }.resolve()
}

/// clap's message without its own `error: ` prefix, which `run` adds.
fn usage_text(e: &clap::Error) -> String {
    let text = e.render().to_string();
    text.trim().trim_start_matches("error: ").to_owned()
}

struct Resolver<'a> {
    cli: &'a Cli,
    env: &'a ClientEnv,
    notes: Vec<String>,
}

impl Resolver<'_> {
    fn resolve(mut self) -> Result<Resolved, ClientError> {
        let login = self.login_choice()?;
        let invocation = match &self.cli.command {
            Command::Ls { labels } => {
                let labels = parse_labels(labels)?;
                let (user, user_is_os_default) = self.user();
                Invocation::Ls(ListParams {
                    proxy: self.proxy()?,
                    trust: self.trust(),
                    user,
                    user_is_os_default,
                    login,
                    mlock: self.mlock()?,
                    labels,
                })
            }
            Command::Ssh { login: ssh_login, target, command } => {
                let (from_target, host) = match target.split_once('@') {
                    Some((l, h)) => (Some(l.to_owned()), h.to_owned()),
                    None => (None, target.clone()),
                };
                if host.is_empty() {
                    return Err(ClientError::Usage(format!("`{target}` names no host")));
                }
                let ssh_login =
                    ssh_login.clone().or(from_target).unwrap_or(self.env.os_user.clone());
                let cluster = self.remote_cluster(login)?;
                Invocation::Ssh { login: ssh_login, host, command: command.clone(), cluster }
            }
            Command::Scp { recursive, paths } => {
                let cluster = self.remote_cluster(login)?;
                Invocation::Scp { recursive: *recursive, paths: paths.clone(), cluster }
            }
            other => {
                if login == LoginChoice::Headless {
                    return Err(ClientError::Usage(self.headless_refusal(other)));
                }
                self.session_command(other)?
            }
        };
        Ok(Resolved { invocation, notes: self.notes })
    }

    fn session_command(&mut self, command: &Command) -> Result<Invocation, ClientError> {
        Ok(match command {
            Command::Login => {
                let (user, defaulted) = self.user();
                if defaulted {
                    self.notes.push(os_user_note(&user));
                }
                Invocation::Login(LoginParams {
                    proxy: self.proxy()?,
                    trust: self.trust(),
                    user,
                    device: self.device()?,
                })
            }
            Command::Signup { invite_url } => Invocation::Signup(SignupParams {
                invite_url: invite_url.clone(),
                trust: self.trust(),
                device: self.device()?,
            }),
            Command::Headless { command: HeadlessCommand::Approve { skip_confirm, id } } => {
                let id: RequestId = id
                    .parse()
                    .map_err(|e: hwa_core::id::RequestIdError| ClientError::Usage(e.to_string()))?;
                let skip = *skip_confirm || self.truthy("HWA_HEADLESS_SKIP_CONFIRM");
                Invocation::Approve(ApproveParams {
                    proxy: self.proxy()?,
                    trust: self.trust(),
                    user: self.cli.user.clone().or(self.env.var("HWA_USER").map(str::to_owned)),
                    id,
                    skip_confirm: skip,
                    device: self.device()?,
                })
            }
            Command::Headless { command: HeadlessCommand::Watch } => {
                Invocation::Watch(WatchParams {
                    proxy: self.proxy()?,
                    trust: self.trust(),
                    device: self.device()?,
                    decisions_max: None,
                })
            }
            Command::Ls { .. } | Command::Ssh { .. } | Command::Scp { .. } => {
                unreachable!("ls, ssh and scp are resolved before session commands")
            }
        })
    }

    /// `--headless`, `HWA_HEADLESS` and `--auth` together (SPEC HL-01).
    fn login_choice(&self) -> Result<LoginChoice, ClientError> {
        let env_headless = self.truthy("HWA_HEADLESS");
        let auth = self.cli.auth.as_deref();
        match auth {
            Some(HEADLESS_AUTH) => Ok(LoginChoice::Headless),
            Some(other) if self.cli.headless || env_headless => Err(ClientError::Usage(format!(
                "{} selects headless login, which cannot be combined with --auth={other}; drop \
                 one of them",
                if self.cli.headless { "--headless" } else { "HWA_HEADLESS=1" }
            ))),
            Some(_) => Ok(LoginChoice::Session),
            None if self.cli.headless || env_headless => Ok(LoginChoice::Headless),
            None => Ok(LoginChoice::ProxyDefault),
        }
    }

    fn headless_refusal(&self, command: &Command) -> String {
        let name = match command {
            Command::Login => "login",
            Command::Signup { .. } => "signup",
            Command::Headless { command: HeadlessCommand::Approve { .. } } => "headless approve",
            Command::Headless { command: HeadlessCommand::Watch } => "headless watch",
            Command::Ls { .. } | Command::Ssh { .. } | Command::Scp { .. } => "ls",
        };
        let source = if self.cli.headless {
            "--headless"
        } else if self.cli.auth.as_deref() == Some(HEADLESS_AUTH) {
            "--auth=headless"
        } else {
            "HWA_HEADLESS=1"
        };
        format!(
            "`hwa {name}` does not support headless login ({source}); headless login works only \
             with ls, ssh and scp; run it without {source}"
        )
    }

    fn proxy(&mut self) -> Result<ProxyUrl, ClientError> {
        if let Some(p) = self.cli.proxy.as_deref().or(self.env.var("HWA_PROXY")) {
            return ProxyUrl::parse(p);
        }
        let current = match &self.env.home {
            Some(home) => ProfileStore::new(home).current_proxy()?,
            None => None,
        };
        match current {
            Some(p) => ProxyUrl::parse(&p),
            None => Err(ClientError::Usage(
                "no proxy given; pass --proxy=host[:port] or set HWA_PROXY".into(),
            )),
        }
    }

    /// What `hwa ssh` and `hwa scp` need. The authenticator is only for per-session MFA of a
    /// session login, so it is optional here and checked when a role asks for it.
    fn remote_cluster(&mut self, login: LoginChoice) -> Result<RemoteCluster, ClientError> {
        let (user, _) = self.user();
        let device = match (&self.cli.authenticator_file, &self.cli.authenticator) {
            (None, None) => None,
            _ => Some(self.device()?),
        };
        Ok(RemoteCluster {
            proxy: self.proxy()?,
            trust: self.trust(),
            user,
            mlock: self.mlock()?,
            default_login: self.env.os_user.clone(),
            login,
            device,
        })
    }

    /// The user and whether it is the OS user by default (SPEC HL-02).
    fn user(&self) -> (String, bool) {
        match self.cli.user.as_deref().or(self.env.var("HWA_USER")) {
            Some(u) => (u.to_owned(), false),
            None => (self.env.os_user.clone(), true),
        }
    }

    fn mlock(&self) -> Result<MlockMode, ClientError> {
        match self.cli.mlock.as_deref().or(self.env.var("HWA_MLOCK_MODE")) {
            Some(text) => text.parse().map_err(ClientError::Usage),
            None => Ok(MlockMode::Auto),
        }
    }

    fn trust(&mut self) -> Trust {
        if self.env.var(SIMULATED_NETWORK_VAR) == Some("1") {
            return Trust::SimulatedNetwork;
        }
        if self.cli.insecure {
            let note = "warning: --insecure accepts any TLS certificate from the proxy, so anyone \
                        on the network path can impersonate it; use it only with a development \
                        proxy";
            if !self.notes.iter().any(|n| n == note) {
                self.notes.push(note.to_owned());
            }
            Trust::Insecure
        } else {
            Trust::System
        }
    }

    /// `--authenticator` and `--authenticator-file` together: a file when one is named, else
    /// a USB security key.
    fn device(&self) -> Result<DeviceChoice, ClientError> {
        let file = self.cli.authenticator_file.clone();
        match (self.cli.authenticator.as_deref(), file) {
            (None | Some("file"), Some(path)) => Ok(DeviceChoice::File(path)),
            (Some("file"), None) => Err(ClientError::Usage(
                "--authenticator=file needs --authenticator-file=KEY.json".into(),
            )),
            (None | Some("usb"), None) => Ok(DeviceChoice::SecurityKey(None)),
            (Some(kind), None) if kind.starts_with("usb:") => {
                let path = &kind["usb:".len()..];
                if path.is_empty() {
                    return Err(ClientError::Usage(
                        "--authenticator=usb: needs a device path, as in usb:/dev/hidraw3".into(),
                    ));
                }
                Ok(DeviceChoice::SecurityKey(Some(PathBuf::from(path))))
            }
            (Some(kind), Some(_)) if kind == "usb" || kind.starts_with("usb:") => {
                Err(ClientError::Usage(
                    "--authenticator-file names a software authenticator, --authenticator=usb a \
                     security key; give one of them"
                        .into(),
                ))
            }
            (Some(other), _) => Err(ClientError::Usage(format!(
                "unknown authenticator `{other}`; use usb, usb:/dev/hidrawN, or \
                 --authenticator-file=KEY.json"
            ))),
        }
    }

    fn truthy(&self, name: &str) -> bool {
        matches!(self.env.var(name), Some("1" | "true" | "yes" | "on"))
    }
}

/// What the client says when it asks for the OS user because no user was given (SPEC HL-02).
pub fn os_user_note(user: &str) -> String {
    format!("no --user or HWA_USER given; asking for the OS user `{user}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::tests_support::test_env;

    fn args(line: &str) -> Vec<String> {
        std::iter::once("hwa").chain(line.split_whitespace()).map(str::to_owned).collect()
    }

    fn resolve_with(line: &str, vars: &[(&str, &str)]) -> Result<Resolved, ClientError> {
        let mut env = test_env();
        for (k, v) in vars {
            env.vars.insert((*k).to_owned(), (*v).to_owned());
        }
        resolve(&args(line), &env)
    }

    fn ls(resolved: Resolved) -> (ListParams, Vec<String>) {
        match resolved.invocation {
            Invocation::Ls(p) => (p, resolved.notes),
            other => panic!("expected ls, got {other:?}"),
        }
    }

    fn login_device(line: &str) -> Result<DeviceChoice, ClientError> {
        match resolve_with(line, &[])?.invocation {
            Invocation::Login(p) => Ok(p.device),
            other => panic!("expected login, got {other:?}"),
        }
    }

    #[test]
    fn the_device_is_the_file_named_else_the_plugged_in_security_key() {
        let file = login_device("login --proxy=p --authenticator-file=k.json").unwrap();
        assert_eq!(file, DeviceChoice::File("k.json".into()));
        let file = login_device("login --proxy=p --authenticator=file --authenticator-file=k.json");
        assert_eq!(file.unwrap(), DeviceChoice::File("k.json".into()));
        assert_eq!(login_device("login --proxy=p").unwrap(), DeviceChoice::SecurityKey(None));
        assert_eq!(
            login_device("login --proxy=p --authenticator=usb").unwrap(),
            DeviceChoice::SecurityKey(None)
        );
        assert_eq!(
            login_device("login --proxy=p --authenticator=usb:/dev/hidraw3").unwrap(),
            DeviceChoice::SecurityKey(Some("/dev/hidraw3".into()))
        );
    }

    #[test]
    fn contradictory_or_unknown_devices_are_refused_saying_what_to_give() {
        for (line, says) in [
            ("login --proxy=p --authenticator=file", "needs --authenticator-file"),
            ("login --proxy=p --authenticator=usb:", "needs a device path"),
            ("login --proxy=p --authenticator=usb --authenticator-file=k.json", "give one of them"),
            ("login --proxy=p --authenticator=nfc", "unknown authenticator `nfc`"),
        ] {
            let err = login_device(line).unwrap_err().to_string();
            assert!(err.contains(says), "{line}: {err}");
        }
    }

    #[test]
    fn the_user_defaults_to_the_os_user_and_the_client_says_so() {
        let (p, notes) = ls(resolve_with("ls --headless --proxy=p.example.com", &[]).unwrap());
        assert_eq!(p.user, "osuser");
        assert!(p.user_is_os_default);
        assert!(notes.is_empty(), "ls names the user only once it logs in headlessly");
        assert_eq!(
            os_user_note("osuser"),
            "no --user or HWA_USER given; asking for the OS user `osuser`"
        );
        let r = resolve_with("login --proxy=p --authenticator-file=k.json", &[]).unwrap();
        assert_eq!(r.notes, vec![os_user_note("osuser")]);
    }

    #[test]
    fn flags_win_over_variables_and_variables_over_defaults() {
        let vars = [("HWA_USER", "bob"), ("HWA_PROXY", "env.example.com")];
        let (p, _) = ls(resolve_with("ls --headless", &vars).unwrap());
        assert_eq!((p.user.as_str(), p.proxy.host.as_str()), ("bob", "env.example.com"));
        assert!(!p.user_is_os_default);
        let (p, _) =
            ls(resolve_with("ls --headless --user=carol --proxy=f.example.com", &vars).unwrap());
        assert_eq!((p.user.as_str(), p.proxy.host.as_str()), ("carol", "f.example.com"));
    }

    #[test]
    fn headless_is_selected_by_flag_variable_or_auth() {
        for (line, vars) in [
            ("ls --headless --proxy=p", vec![]),
            ("ls --auth=headless --proxy=p", vec![]),
            ("ls --proxy=p", vec![("HWA_HEADLESS", "1")]),
        ] {
            let (p, _) = ls(resolve_with(line, &vars).unwrap());
            assert_eq!(p.login, LoginChoice::Headless, "{line}");
        }
        let (p, _) = ls(resolve_with("ls --proxy=p", &[]).unwrap());
        assert_eq!(p.login, LoginChoice::ProxyDefault);
        let (p, _) = ls(resolve_with("ls --auth=local --proxy=p", &[]).unwrap());
        assert_eq!(p.login, LoginChoice::Session);
    }

    #[test]
    fn headless_with_another_auth_method_is_a_usage_error() {
        let err = resolve_with("ls --headless --auth=local --proxy=p", &[]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let expected = "--headless selects headless login, which cannot be combined with \
                        --auth=local; drop one of them";
        assert_eq!(err.to_string(), expected);
        let err = resolve_with("ls --auth=local --proxy=p", &[("HWA_HEADLESS", "1")]).unwrap_err();
        assert!(err.to_string().starts_with("HWA_HEADLESS=1 selects"), "{err}");
    }

    #[test]
    fn commands_other_than_ls_ssh_and_scp_refuse_headless() {
        let mut out = Vec::new();
        for line in [
            "login --headless --proxy=p --authenticator-file=k.json",
            "signup http://127.0.0.1:3080/web/invite/x --auth=headless --authenticator-file=k.json",
            "headless approve --headless bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f",
            "headless watch --headless",
        ] {
            let err = resolve_with(line, &[]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{line}");
            out.push(err.to_string());
        }
        let err =
            resolve_with("login --proxy=p --authenticator-file=k.json", &[("HWA_HEADLESS", "1")])
                .unwrap_err();
        out.push(err.to_string());
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn ssh_and_scp_accept_headless_and_parse_their_arguments() {
        let r = resolve_with("ssh --headless --proxy=p root@node1 uname -a", &[]).unwrap();
        match r.invocation {
            Invocation::Ssh { login, host, command, .. } => {
                assert_eq!((login.as_str(), host.as_str()), ("root", "node1"));
                assert_eq!(command, vec!["uname", "-a"]);
            }
            other => panic!("{other:?}"),
        }
        let r = resolve_with("ssh --headless --proxy=p node1", &[]).unwrap();
        assert!(matches!(r.invocation, Invocation::Ssh { ref login, .. } if login == "osuser"));
        let r = resolve_with("scp --headless --proxy=p -r a:/x b:/y", &[]).unwrap();
        assert!(matches!(r.invocation, Invocation::Scp { recursive: true, ref paths, .. }
                if paths.len() == 2));
    }

    #[test]
    fn mlock_mode_comes_from_flag_then_variable_and_bad_values_are_usage_errors() {
        let (p, _) = ls(resolve_with("ls --proxy=p", &[]).unwrap());
        assert_eq!(p.mlock, MlockMode::Auto);
        let (p, _) = ls(resolve_with("ls --proxy=p", &[("HWA_MLOCK_MODE", "strict")]).unwrap());
        assert_eq!(p.mlock, MlockMode::Strict);
        let (p, _) =
            ls(resolve_with("ls --proxy=p --mlock=off", &[("HWA_MLOCK_MODE", "strict")]).unwrap());
        assert_eq!(p.mlock, MlockMode::Off);
        let err = resolve_with("ls --proxy=p --mlock=always", &[]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn approve_reads_skip_confirm_from_the_variable_and_checks_the_id() {
        let line = "headless approve --proxy=p --authenticator-file=k.json \
                    bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f";
        let r = resolve_with(line, &[("HWA_HEADLESS_SKIP_CONFIRM", "1")]).unwrap();
        assert!(matches!(
            r.invocation,
            Invocation::Approve(ApproveParams { skip_confirm: true, .. })
        ));
        let err = resolve_with("headless approve --proxy=p --authenticator-file=k.json nope", &[])
            .unwrap_err();
        assert!(err.to_string().contains("not a headless request ID"), "{err}");
    }

    #[test]
    fn insecure_warns_and_a_missing_proxy_says_how_to_give_one() {
        let (p, notes) = ls(resolve_with("ls --proxy=p --user=u --insecure", &[]).unwrap());
        assert!(matches!(p.trust, Trust::Insecure));
        assert!(notes[0].contains("--insecure accepts any TLS certificate"));
        let err = resolve_with("ls --user=u", &[]).unwrap_err();
        assert!(err.to_string().contains("HWA_PROXY"), "{err}");
    }

    #[test]
    fn help_is_not_an_error_and_unknown_flags_are_usage_errors() {
        assert!(matches!(resolve_with("--help", &[]).unwrap().invocation, Invocation::Help(_)));
        assert_eq!(resolve_with("ls --bogus", &[]).unwrap_err().exit_code(), 2);
    }
}
