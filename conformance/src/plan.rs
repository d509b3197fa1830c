//! What a case describes: users, an optional `cluster_auth_preference`, the machines and
//! their programs, and checks made when the programs are over. Targets turn a [`Plan`] into a
//! running cluster; cases never see which target runs them.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use hwa_sim::board::Board;

use crate::target::Machine;

/// The program one machine runs once.
pub type MachineProgram =
    Box<dyn FnOnce(Rc<dyn Machine>) -> Pin<Box<dyn Future<Output = Result<(), String>>>>>;

/// What a machine is for; a remote machine's home must stay empty (SPEC HL-05).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Approver,
    Remote,
    Attacker,
}

pub struct MachineSpec {
    pub name: String,
    pub os_user: String,
    pub role: Role,
    pub program: MachineProgram,
}

impl std::fmt::Debug for MachineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineSpec").field("name", &self.name).field("role", &self.role).finish()
    }
}

/// A check of the board once every program is over.
pub type BoardCheck = Box<dyn Fn(&Board) -> Result<(), String>>;

/// Stands, in a user's logins, for the login the target's SSH nodes serve (the OS account
/// the nodes run as on a live target).
pub const NODE_LOGIN: &str = "{node_login}";

/// A user the administrator adds before the machines start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSpec {
    pub name: String,
    pub logins: Vec<String>,
    /// Roles by name; none means the built-in access role.
    pub roles: Vec<String>,
}

/// An SSH node that joins the cluster before the machines start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    pub name: String,
    /// `key=value,...`, as `hwad start --labels` takes them.
    pub labels: String,
}

/// One case's cluster and programs, built afresh for every run.
#[derive(Default)]
pub struct Plan {
    pub users: Vec<UserSpec>,
    /// Roles (YAML, the guide's format) created before the users are added.
    pub roles: Vec<String>,
    pub nodes: Vec<NodeSpec>,
    pub preference: Option<String>,
    pub machines: Vec<MachineSpec>,
    pub checks: Vec<(&'static str, BoardCheck)>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("users", &self.users)
            .field("roles", &self.roles.len())
            .field("nodes", &self.nodes)
            .field("machines", &self.machines)
            .finish()
    }
}

impl Plan {
    /// A user the administrator adds before the machines start; the invite is on the board.
    pub fn user(&mut self, name: &str, logins: &[&str]) {
        self.user_with_roles(name, logins, &[]);
    }

    /// A user holding `roles` (created with [`Plan::role`]).
    pub fn user_with_roles(&mut self, name: &str, logins: &[&str], roles: &[&str]) {
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        self.users.push(UserSpec {
            name: name.to_owned(),
            logins: owned(logins),
            roles: owned(roles),
        });
    }

    /// A role, in the guide's YAML format, created before any user is added.
    pub fn role(&mut self, yaml: &str) {
        self.roles.push(yaml.to_owned());
    }

    /// An SSH node named `name` with `labels` (`key=value,...`), joined before the machines
    /// start. Its users log in as [`NODE_LOGIN`].
    pub fn node(&mut self, name: &str, labels: &str) {
        self.nodes.push(NodeSpec { name: name.to_owned(), labels: labels.to_owned() });
    }

    /// A `cluster_auth_preference` applied before the machines start; `{rp_id}` in the text
    /// stands for the target's relying party ID.
    pub fn preference(&mut self, yaml: &str) {
        self.preference = Some(yaml.to_owned());
    }

    pub fn machine<F, Fut>(&mut self, name: &str, os_user: &str, role: Role, program: F)
    where
        F: FnOnce(Rc<dyn Machine>) -> Fut + 'static,
        Fut: Future<Output = Result<(), String>> + 'static,
    {
        self.machines.push(MachineSpec {
            name: name.to_owned(),
            os_user: os_user.to_owned(),
            role,
            program: Box::new(move |m| Box::pin(program(m))),
        });
    }

    /// A check made on the board when every program is over.
    pub fn check(
        &mut self,
        what: &'static str,
        check: impl Fn(&Board) -> Result<(), String> + 'static,
    ) {
        self.checks.push((what, Box::new(check)));
    }
}

/// A case: written once, run on every target.
#[derive(Debug)]
pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    /// Catalog IDs the case checks; a failure names them.
    pub requirements: &'static [&'static str],
    pub build: fn(&mut Plan),
}
