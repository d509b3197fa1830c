//! Command dispatch of `hwactl`: the environment it runs in ([`AdminEnv`]), its error type,
//! and the exit statuses (0 ok, 1 error, 2 usage).

use std::fmt;
use std::path::Path;

use hwa_client::http::HttpClient;
use hwa_core::SharedNetwork;
use hwa_core::admin::{LockAdd, LockTarget, UserAdd};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::cli::{Cli, Command, LocksCommand, RolesCommand, UsersCommand};
use crate::client::AdminClient;
use crate::cluster;
use crate::output;

/// Largest resource file read: a resource is a few hundred bytes of YAML.
const RESOURCE_MAX_BYTES: u64 = 1024 * 1024;

/// Where `hwactl` reads and writes.
pub struct AdminEnv {
    pub net: SharedNetwork,
    pub stdin: Box<dyn AsyncRead + Send + Unpin>,
    pub stdout: Box<dyn AsyncWrite + Send + Unpin>,
    pub stderr: Box<dyn AsyncWrite + Send + Unpin>,
}

impl fmt::Debug for AdminEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminEnv").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Api(String),
    #[error("unexpected answer from the proxy: {0}")]
    Protocol(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl AdminError {
    pub fn exit_code(&self) -> u8 {
        match self {
            AdminError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Runs `hwactl` with `args` (the program name first) and returns the exit status.
pub async fn run(args: Vec<String>, mut env: AdminEnv) -> u8 {
    let cli = match <Cli as clap::Parser>::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let text = e.render().to_string();
            let help = matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            );
            let _ =
                if help { write(&mut env.stdout, &text) } else { write(&mut env.stderr, &text) }
                    .await;
            return if help { 0 } else { 2 };
        }
    };
    match execute(cli, &mut env).await {
        Ok(()) => 0,
        Err(e) => {
            let _ = write(&mut env.stderr, &format!("error: {e}\n")).await;
            e.exit_code()
        }
    }
}

async fn execute(cli: Cli, env: &mut AdminEnv) -> Result<(), AdminError> {
    let data_dir = cli.data_dir.ok_or_else(|| {
        AdminError::Usage("pass --data-dir DIR, the data directory of the running hwad".into())
    })?;
    let client = connect(&data_dir, env.net.clone())?;
    let out = match cli.command {
        Command::Users { command } => users(&client, command, env).await?,
        Command::Get { kind, ca_type, .. } if kind == "cert_authority" => {
            cluster::cert_authority(&client, ca_type.as_deref()).await?
        }
        Command::Get { kind, name, .. } => client.resource(&kind, name.as_deref()).await?,
        Command::Tokens { command } => cluster::tokens(&client, command).await?,
        Command::Auth { command } => cluster::auth(&client, command).await?,
        Command::Nodes { command } => cluster::nodes(&client, command).await?,
        Command::Create { force, file } => {
            let yaml = read_resource(&file, env).await?;
            serde_yaml::from_str::<serde_yaml::Value>(&yaml).map_err(|e| {
                AdminError::Usage(format!("{} is not valid YAML: {e}", file.display()))
            })?;
            let applied = client.apply(yaml, force).await?;
            let verb = if applied.created { "created" } else { "updated" };
            format!("{} \"{}\" has been {verb}\n", applied.kind, applied.name)
        }
        Command::Roles { command: RolesCommand::Ls } => client.roles().await?,
        Command::Locks { command } => locks(&client, command).await?,
        Command::Audit { limit, json } => {
            let events = client.audit(limit).await?;
            if json {
                let mut text = String::new();
                for event in &events {
                    let line = serde_json::to_string(event)
                        .map_err(|e| AdminError::Protocol(e.to_string()))?;
                    text.push_str(&line);
                    text.push('\n');
                }
                text
            } else {
                output::audit_table(&events)
            }
        }
    };
    write(&mut env.stdout, &out).await
}

async fn users(
    client: &AdminClient,
    command: UsersCommand,
    env: &mut AdminEnv,
) -> Result<String, AdminError> {
    Ok(match command {
        UsersCommand::Add { name, logins, roles } => {
            let logins: Vec<String> = logins.into_iter().filter(|l| !l.is_empty()).collect();
            let roles: Vec<String> = roles.into_iter().filter(|r| !r.is_empty()).collect();
            let added = client.add_user(&UserAdd { user: name, logins, roles }).await?;
            let note = format!(
                "user {} added; send them this invite URL, valid until {}:\n",
                added.user,
                output::rfc3339(added.expires_at)
            );
            write(&mut env.stderr, &note).await?;
            format!("{}\n", added.invite_url)
        }
        UsersCommand::Ls => output::users_table(&client.users().await?),
        UsersCommand::Rm { name } => {
            client.remove_user(&name).await?;
            format!("user {name} removed\n")
        }
    })
}

async fn locks(client: &AdminClient, command: LocksCommand) -> Result<String, AdminError> {
    Ok(match command {
        LocksCommand::Ls => output::locks_table(&client.locks().await?),
        LocksCommand::Add { user, credential, message, ttl } => {
            let target = match (user, credential) {
                (Some(user), None) => LockTarget::User { user },
                (None, Some(credential_id)) => LockTarget::Credential { credential_id },
                _ => {
                    return Err(AdminError::Usage(
                        "pass exactly one of --user and --credential".into(),
                    ));
                }
            };
            let ttl_secs =
                ttl.as_deref().map(output::parse_ttl).transpose().map_err(AdminError::Usage)?;
            let lock = client.add_lock(&LockAdd { target, message, ttl_secs }).await?;
            format!("lock {} added on {}\n", lock.id, output::target(&lock.target))
        }
        LocksCommand::Rm { id } => {
            client.remove_lock(&id).await?;
            format!("lock {id} removed\n")
        }
    })
}

fn connect(data_dir: &Path, net: SharedNetwork) -> Result<AdminClient, AdminError> {
    let identity = crate::identity::load(data_dir)?;
    let (proxy, trust) = crate::identity::proxy_of(&identity)?;
    let http = HttpClient::new(net, proxy, &trust)?;
    Ok(AdminClient::new(http, identity.token))
}

async fn read_resource(file: &Path, env: &mut AdminEnv) -> Result<String, AdminError> {
    let mut bytes = Vec::new();
    let context = || format!("reading {}", file.display());
    if file.as_os_str() == "-" {
        (&mut env.stdin).take(RESOURCE_MAX_BYTES).read_to_end(&mut bytes).await.map_err(
            |source| AdminError::Io { context: "reading standard input".into(), source },
        )?;
    } else {
        let f = tokio::fs::File::open(file)
            .await
            .map_err(|source| AdminError::Io { context: context(), source })?;
        f.take(RESOURCE_MAX_BYTES)
            .read_to_end(&mut bytes)
            .await
            .map_err(|source| AdminError::Io { context: context(), source })?;
    }
    String::from_utf8(bytes)
        .map_err(|_| AdminError::Usage(format!("{} is not UTF-8 text", file.display())))
}

async fn write(
    stream: &mut Box<dyn AsyncWrite + Send + Unpin>,
    text: &str,
) -> Result<(), AdminError> {
    let io = |source| AdminError::Io { context: "writing output".into(), source };
    stream.write_all(text.as_bytes()).await.map_err(io)?;
    stream.flush().await.map_err(io)
}

#[cfg(test)]
mod tests {
    use hwa_core::net::TokioNetwork;

    use super::*;

    fn env() -> AdminEnv {
        AdminEnv {
            net: TokioNetwork::shared(),
            stdin: Box::new(tokio::io::empty()),
            stdout: Box::new(tokio::io::sink()),
            stderr: Box::new(tokio::io::sink()),
        }
    }

    fn args(line: &str) -> Vec<String> {
        std::iter::once("hwactl").chain(line.split_whitespace()).map(str::to_owned).collect()
    }

    #[tokio::test]
    async fn a_missing_data_dir_is_a_usage_error() {
        assert_eq!(run(args("users ls"), env()).await, 2);
    }

    #[tokio::test]
    async fn a_data_dir_without_identity_fails_with_status_one() {
        let dir = tempfile::tempdir().unwrap();
        let line = format!("--data-dir {} users ls", dir.path().display());
        assert_eq!(run(args(&line), env()).await, 1);
    }

    #[test]
    fn the_documented_command_lines_parse() {
        use clap::Parser;
        for line in [
            "--data-dir d users add alice --logins alice",
            "--data-dir d users add bob --logins bob,root --roles access,auditor",
            "--data-dir d get cluster_auth_preference",
            "--data-dir d get role access",
            "--data-dir d create -f cap.yaml",
            "--data-dir d create --force -",
            "--data-dir d locks add --user bob --message gone --ttl 1h",
            "--data-dir d locks rm lk1",
            "--data-dir d audit --limit 5 --json",
        ] {
            assert!(Cli::try_parse_from(args(line)).is_ok(), "{line}");
        }
        assert!(Cli::try_parse_from(args("--data-dir d locks add")).is_err());
        assert!(
            Cli::try_parse_from(args("--data-dir d locks add --user a --credential c")).is_err()
        );
    }
}
