//! OS accounts: which logins this node process can serve, and with which identity their
//! processes run.
//!
//! A node running as root serves every account of the machine and switches each session's
//! processes to the login's uid and gid (std drops root's supplementary groups when it does).
//! A node running as an ordinary user can serve that user's own login only; any other login
//! is refused at authentication, since it could not be honoured.
//!
//! # Limitations
//! - The login's supplementary groups are not set for its processes (that needs
//!   `initgroups`, an unsafe libc call the workspace does not allow); the processes have the
//!   primary group only.

use std::path::PathBuf;

use nix::unistd::{Uid, User};

use crate::admission::Refusal;

/// The shell used when an account names none, as `login(1)` does.
pub const DEFAULT_SHELL: &str = "/bin/sh";

/// `PATH` given to session processes: the Debian default for ordinary users.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// A login resolved to the machine's account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: PathBuf,
}

impl Account {
    /// Whether processes for this account need a uid and gid switch (the node runs as root
    /// and the account is another user).
    pub fn needs_switch(&self) -> bool {
        self.uid != Uid::effective().as_raw()
    }

    /// Whether the node process itself runs as this account, so in-process file access (the
    /// SFTP server) happens with the account's own permissions.
    pub fn is_node_user(&self) -> bool {
        !self.needs_switch()
    }
}

/// Resolves `login` to an account this process can serve.
pub fn lookup(login: &str) -> Result<Account, Refusal> {
    let user = User::from_name(login)
        .map_err(|e| Refusal::AccountLookup(e.to_string()))?
        .ok_or(Refusal::UnknownAccount)?;
    let me = Uid::effective();
    if !me.is_root() && user.uid != me {
        return Err(Refusal::AccountNotServable { running_as: me.as_raw() });
    }
    let shell =
        if user.shell.as_os_str().is_empty() { PathBuf::from(DEFAULT_SHELL) } else { user.shell };
    Ok(Account {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        home: user.dir,
        shell,
    })
}

/// The account the node process runs as, for tests and for logging at start.
pub fn current() -> Result<Account, Refusal> {
    let me = User::from_uid(Uid::effective())
        .map_err(|e| Refusal::AccountLookup(e.to_string()))?
        .ok_or(Refusal::UnknownAccount)?;
    lookup(&me.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_user_resolves_to_itself() {
        let me = current().unwrap();
        assert!(me.is_node_user());
        assert_eq!(lookup(&me.name).unwrap(), me);
    }

    #[test]
    fn an_unknown_login_is_refused() {
        assert_eq!(lookup("no-such-user-hwa-test"), Err(Refusal::UnknownAccount));
    }
}
