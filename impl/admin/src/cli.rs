//! The `hwactl` command line. Commands mirror the reference's `tctl`, so that
//! `hwactl --data-dir DIR users add alice --logins alice`,
//! `hwactl --data-dir DIR get cluster_auth_preference` and
//! `hwactl --data-dir DIR create -f cap.yaml` read as its users expect.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "hwactl", version, about = "Administer a headless-webauthn cluster")]
pub struct Cli {
    /// The data directory of the running hwad, which holds admin-identity.json.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Print a resource as YAML: `cluster_auth_preference`, `role [NAME]`, ...; or
    /// `cert_authority --type=user|host` as one OpenSSH public key line.
    Get {
        kind: String,
        name: Option<String>,
        /// With `cert_authority`: `user` (for sshd's `TrustedUserCAKeys`) or `host`.
        #[arg(long = "type", value_name = "TYPE")]
        ca_type: Option<String>,
    },
    /// Join tokens for nodes.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Host keys and certificates for agentless nodes.
    Auth {
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// The node inventory.
    Nodes {
        #[command(subcommand)]
        command: NodesCommand,
    },
    /// Create or update a resource from a YAML file (`-` reads standard input).
    Create {
        /// Overwrite the resource if it exists.
        #[arg(short = 'f', long)]
        force: bool,
        file: PathBuf,
    },
    /// List roles.
    Roles {
        #[command(subcommand)]
        command: RolesCommand,
    },
    /// Lock users or credentials out.
    Locks {
        #[command(subcommand)]
        command: LocksCommand,
    },
    /// Show the audit log, oldest first.
    Audit {
        /// How many of the latest events to show.
        #[arg(long)]
        limit: Option<usize>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; prints the invite URL to send them.
    Add {
        name: String,
        /// SSH logins the user may use, comma-separated.
        #[arg(long, value_delimiter = ',')]
        logins: Vec<String>,
        /// Roles, comma-separated (default: the built-in `access` role).
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// List users.
    Ls,
    /// Remove a user.
    Rm { name: String },
}

#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Print every role as YAML.
    Ls,
}

#[derive(Debug, Subcommand)]
pub enum LocksCommand {
    /// List locks.
    Ls,
    /// Add a lock on a user or a credential.
    Add {
        #[arg(long, conflicts_with = "credential", required_unless_present = "credential")]
        user: Option<String>,
        /// Credential ID, base64url, as `users ls` shows it.
        #[arg(long)]
        credential: Option<String>,
        #[arg(long, default_value = "")]
        message: String,
        /// Lift the lock after this long (90, 45s, 30m, 1h, 2d); default: never.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Remove a lock.
    Rm { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a single-use join token; prints it once.
    Add {
        /// What joins with it: `node`.
        #[arg(long = "type", value_name = "TYPE")]
        kind: String,
        /// How long it lives (90, 45s, 30m, 1h); default 30 minutes.
        #[arg(long)]
        ttl: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Make a host key and a host certificate for a stock sshd (`HostKey`, `HostCertificate`).
    Sign {
        /// The host name the certificate names; users connect to it by this name.
        #[arg(long)]
        host: String,
        /// Writes PREFIX (private key, 0600) and PREFIX-cert.pub.
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum NodesCommand {
    /// Register an agentless node (a stock sshd trusting the user CA).
    Add {
        #[arg(long)]
        name: String,
        /// Where the proxy reaches its SSH server, host:port.
        #[arg(long)]
        addr: String,
        /// `name=value,...`.
        #[arg(long, default_value = "")]
        labels: String,
    },
}
