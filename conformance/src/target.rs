//! The target interface: what a conformance case may do on one machine of a cluster, and what
//! it may ask of the cluster as a whole. Cases are written once against these traits; each
//! target ([`crate::sim`], [`crate::live`]) implements them.
//!
//! # Plugging in another implementation
//! A target needs to provide, per case run:
//! - a cluster reachable at the addresses [`Machine::proxy`] answers, serving the reference
//!   HTTP surface (`hwa_core::api`: `/webapi/headless/login`, `/webapi/headless/{id}`, ...);
//! - users created before the machines start (the [`Plan`](crate::plan::Plan)'s users), whose
//!   invite URLs it puts on the shared [`Board`] (`board.set_invite(user, url)`);
//! - a `cluster_auth_preference` applied before the machines start when the plan has one;
//! - per machine, a way to run the `hwa` command line with arguments, extra environment
//!   variables and scripted answers on standard input ([`Machine::spawn_hwa`]); its standard
//!   error and output appear on the board under the machine's name *as they are written*, so
//!   another machine can read the approval URL while the command still waits;
//! - raw HTTP calls to the proxy ([`Machine::http`]), which is how attackers and the ID vectors
//!   speak to it;
//! - for the SSH cases, the plan's roles, and its nodes joined and serving the login
//!   [`Machine::node_login`] names.
//!
//! A target that cannot do something a case needs answers an error naming what is missing;
//! the skip list (`data/skips.toml`) records, with a reason, each case a target does not run.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use async_trait::async_trait;
use hwa_sim::board::Board;
use hwa_virtual_authenticator::Faults;

/// How one `hwa` command ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    /// `Ok` when the command exited 0, else an error quoting its standard error.
    pub fn ok(self, what: &str) -> Result<CommandOutput, String> {
        if self.exit_code == 0 {
            Ok(self)
        } else {
            Err(format!("{what} exited {}:\n{}", self.exit_code, self.stderr.trim_end()))
        }
    }
}

/// A running `hwa` command; [`HwaRun::wait`] answers how it ended.
pub struct HwaRun(pub Pin<Box<dyn Future<Output = CommandOutput>>>);

impl std::fmt::Debug for HwaRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HwaRun")
    }
}

impl HwaRun {
    pub async fn wait(self) -> CommandOutput {
        self.0.await
    }
}

/// One machine of a case: a laptop, a remote dev box, an attacker's host.
#[async_trait(?Send)]
pub trait Machine {
    /// The machine's name, under which its terminal output appears on the board.
    fn name(&self) -> &str;

    /// The OS user of the machine's terminal (the default user, SPEC HL-02).
    fn os_user(&self) -> &str;

    /// The machine's home directory.
    fn home(&self) -> PathBuf;

    /// The address of proxy `i` (0-based) as a user types it after `--proxy=`.
    fn proxy(&self, i: usize) -> String;

    /// The `--authenticator-file=...` argument for the software authenticator named `key` on
    /// this machine.
    fn key_arg(&self, key: &str) -> String;

    /// What every machine of the case sees: terminals, invites, flags.
    fn board(&self) -> &Board;

    /// Starts `hwa args...` with the extra environment `vars` and the lines `answers` on
    /// standard input. The command runs while the caller does other things.
    fn spawn_hwa(&self, args: &[&str], vars: &[(&str, &str)], answers: &[&str]) -> HwaRun;

    /// Runs `hwa args...` to its end.
    async fn hwa(&self, args: &[&str], vars: &[(&str, &str)], answers: &[&str]) -> CommandOutput {
        self.spawn_hwa(args, vars, answers).wait().await
    }

    /// One raw HTTP call to proxy `i`: answers status and body text. `Err` only when no
    /// answer came (connection refused, reset).
    async fn http(
        &self,
        i: usize,
        method: &str,
        path: &str,
        body: Option<String>,
        bearer: Option<&str>,
    ) -> Result<(u16, String), String>;

    /// Has the authenticator `key` of this machine answer `request_options` (a
    /// `PublicKeyCredentialRequestOptions` JSON) for the origin of proxy `i`, as a browser page
    /// there would: for cases that hand an assertion to the wrong place on purpose.
    async fn authenticate(
        &self,
        key: &str,
        request_options: &serde_json::Value,
        i: usize,
    ) -> Result<serde_json::Value, String> {
        let proxy =
            hwa_client::proxy_url::ProxyUrl::parse(&self.proxy(i)).map_err(|e| e.to_string())?;
        let mut device = self.open_authenticator(key)?;
        let mut nobody = hwa_client::IoTerminal::silent();
        device.authenticate(request_options, &proxy.origin(), &mut nobody).await
    }

    /// The authenticator `key` of this machine.
    fn open_authenticator(&self, key: &str) -> Result<Box<dyn hwa_client::WebauthnDevice>, String>;

    /// Switches faults on the authenticator `key`, for the WebAuthn checks. A target whose
    /// authenticator cannot carry faults answers an error.
    async fn set_faults(&self, key: &str, faults: Faults) -> Result<(), String>;

    /// Runs `hwactl args...` against the cluster, with `stdin` on standard input: the
    /// administrator's console. A target without one answers an error.
    async fn admin(&self, args: &[&str], stdin: Option<&str>) -> Result<CommandOutput, String>;

    /// The login the cluster's SSH nodes serve, which a case's [`NODE_LOGIN`] stands for. A
    /// target without SSH nodes answers an error.
    ///
    /// [`NODE_LOGIN`]: crate::plan::NODE_LOGIN
    fn node_login(&self) -> Result<String, String> {
        Err("this target runs no SSH nodes".into())
    }

    /// The session token the `hwa login` of this machine keeps for proxy `i`, as an attacker
    /// who read the disk would have it.
    fn stolen_token(&self, i: usize) -> Result<String, String> {
        let proxy =
            hwa_client::proxy_url::ProxyUrl::parse(&self.proxy(i)).map_err(|e| e.to_string())?;
        let profile = hwa_client::profile::ProfileStore::new(&self.home())
            .load(&proxy)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} holds no profile for {}", self.name(), self.proxy(i)))?;
        Ok(profile.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_passes_a_zero_exit_and_quotes_standard_error_otherwise() {
        let good = CommandOutput { exit_code: 0, stdout: "Node\n".into(), stderr: String::new() };
        assert_eq!(good.clone().ok("ls").unwrap(), good);
        let bad =
            CommandOutput { exit_code: 1, stdout: String::new(), stderr: "error: no\n".into() };
        assert_eq!(bad.ok("hwa ls").unwrap_err(), "hwa ls exited 1:\nerror: no");
    }
}
