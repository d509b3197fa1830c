//! The `sim` target: each case's plan becomes a simulated cluster ([`hwa_sim::harness`]) with
//! the real auth service, proxy and client as turmoil hosts, run over several seeds. `hwa`
//! commands run the client's own command-line code ([`hwa_client::run`]) in process, with the
//! simulator's network, clocks, entropy and software authenticators.
//!
//! Also runs every simulator scenario ([`hwa_sim::scenarios::ALL`]) as a sim-only case: they
//! hold the races, adversaries and invariants that only a simulator can schedule.

use std::path::PathBuf;
use std::rc::Rc;

use async_trait::async_trait;
use hwa_client::http::{Call, HttpClient, Trust};
use hwa_client::proxy_url::ProxyUrl;
use hwa_client::{Terminal, WebauthnDevice};
use hwa_core::memlock::SimLockBehaviour;
use hwa_sim::board::Board;
use hwa_sim::harness::{HostCtx, RunConfig, Setup, run_setup};
use hwa_virtual_authenticator::Faults;
use serde_json::Value;

use crate::plan::{Case, Plan, Role};
use crate::target::{CommandOutput, HwaRun, Machine};

/// Seeds every shared case runs over on the simulator.
pub const CASE_SEEDS: std::ops::Range<u64> = 0..3;

/// Seeds every simulator scenario runs over.
pub const SCENARIO_SEEDS: std::ops::Range<u64> = 0..5;

/// A simulated machine: a turmoil client host.
#[derive(Debug)]
pub struct SimMachine {
    ctx: HostCtx,
}

impl SimMachine {
    pub fn new(ctx: HostCtx) -> SimMachine {
        SimMachine { ctx }
    }
}

#[async_trait(?Send)]
impl Machine for SimMachine {
    fn name(&self) -> &str {
        &self.ctx.host.name
    }

    fn os_user(&self) -> &str {
        &self.ctx.host.os_user
    }

    fn home(&self) -> PathBuf {
        self.ctx.host.home.clone()
    }

    fn proxy(&self, i: usize) -> String {
        self.ctx.proxy(i)
    }

    fn key_arg(&self, key: &str) -> String {
        // The simulator's authenticator factory names keys by the file name asked for.
        format!("--authenticator-file={key}")
    }

    fn board(&self) -> &Board {
        &self.ctx.board
    }

    fn spawn_hwa(&self, args: &[&str], vars: &[(&str, &str)], answers: &[&str]) -> HwaRun {
        let ctx = self.ctx.clone();
        let mut env = ctx.host.env(&ctx.board, &ctx.keyring, ctx.seed, answers);
        env.vars.insert(hwa_client::cli::SIMULATED_NETWORK_VAR.into(), "1".into());
        for (k, v) in vars {
            env.vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let argv: Vec<String> =
            std::iter::once("hwa").chain(args.iter().copied()).map(str::to_owned).collect();
        HwaRun(Box::pin(async move {
            let host = ctx.host.name.clone();
            let (out0, err0) = (ctx.board.stdout(&host).len(), ctx.board.stderr(&host).len());
            let code = hwa_client::run(argv, env).await;
            CommandOutput {
                exit_code: i32::from(code),
                stdout: ctx.board.stdout(&host).get(out0..).unwrap_or_default().to_owned(),
                stderr: ctx.board.stderr(&host).get(err0..).unwrap_or_default().to_owned(),
            }
        }))
    }

    async fn http(
        &self,
        i: usize,
        method: &str,
        path: &str,
        body: Option<String>,
        bearer: Option<&str>,
    ) -> Result<(u16, String), String> {
        let proxy = ProxyUrl::parse(&self.proxy(i)).map_err(|e| e.to_string())?;
        let net = self.ctx.host.env(&self.ctx.board, &self.ctx.keyring, self.ctx.seed, &[]).net;
        let client =
            HttpClient::new(net, proxy, &Trust::SimulatedNetwork).map_err(|e| e.to_string())?;
        raw_call(&client, method, path, body, bearer).await
    }

    async fn admin(&self, _args: &[&str], _stdin: Option<&str>) -> Result<CommandOutput, String> {
        Err("the simulated cluster has no hwactl; apply settings through the plan".into())
    }

    fn open_authenticator(&self, key: &str) -> Result<Box<dyn WebauthnDevice>, String> {
        Ok(Box::new(KeyDevice(self.ctx.keyring.key(key, self.ctx.seed ^ hwa_sim::hosts::fnv(key)))))
    }

    async fn set_faults(&self, key: &str, faults: Faults) -> Result<(), String> {
        self.ctx.keyring.set_faults(key, self.ctx.seed ^ hwa_sim::hosts::fnv(key), faults).await;
        Ok(())
    }
}

/// A keyring authenticator used directly by a case.
struct KeyDevice(std::sync::Arc<tokio::sync::Mutex<hwa_virtual_authenticator::WebauthnClient>>);

#[async_trait]
impl WebauthnDevice for KeyDevice {
    async fn register(
        &mut self,
        options: &Value,
        origin: &str,
        _person: &mut dyn Terminal,
    ) -> Result<Value, String> {
        self.0.lock().await.register(options, origin).await.map_err(|e| e.to_string())
    }

    async fn authenticate(
        &mut self,
        options: &Value,
        origin: &str,
        _person: &mut dyn Terminal,
    ) -> Result<Value, String> {
        self.0.lock().await.authenticate(options, origin).await.map_err(|e| e.to_string())
    }
}

/// One raw call through the client's HTTP code, shared by the targets.
pub async fn raw_call(
    client: &HttpClient,
    method: &str,
    path: &str,
    body: Option<String>,
    bearer: Option<&str>,
) -> Result<(u16, String), String> {
    let method: http::Method = method.parse().map_err(|e| format!("bad method {method}: {e}"))?;
    let mut call = Call::new(method, path);
    if let Some(body) = body {
        call.body = Some((body.into_bytes().into(), "application/json"));
    }
    if let Some(token) = bearer {
        call = call.bearer(token);
    }
    call.timeout = Some(std::time::Duration::from_secs(30));
    let (status, body) = client.fetch(&call).await.map_err(|e| e.to_string())?;
    Ok((status.as_u16(), String::from_utf8_lossy(&body).into_owned()))
}

/// Builds the simulator's setup from a case's plan.
fn setup_for(case: &Case, seed: u64) -> Setup {
    let mut plan = Plan::default();
    (case.build)(&mut plan);
    let mut setup = Setup::new(seed);
    for user in &plan.users {
        let logins: Vec<&str> = user.logins.iter().map(String::as_str).collect();
        setup.user(&user.name, &logins);
    }
    if let Some(yaml) = &plan.preference {
        setup.preference(&yaml.replace("{rp_id}", hwa_sim::harness::SIM_DOMAIN));
    }
    for spec in plan.machines {
        let program = spec.program;
        let run = move |ctx: HostCtx| async move {
            let machine: Rc<dyn Machine> = Rc::new(SimMachine::new(ctx));
            program(machine).await
        };
        match spec.role {
            Role::Approver => setup.approver(&spec.name, &spec.os_user, run),
            Role::Remote => setup.remote(&spec.name, &spec.os_user, SimLockBehaviour::Succeed, run),
            Role::Attacker => setup.attacker(&spec.name, run),
        }
    }
    for (what, check) in plan.checks {
        setup.expect(what, check);
    }
    setup
}

/// Runs `case` on the simulator over [`CASE_SEEDS`]; the first failure names its seed.
pub fn run_case(case: &Case) -> Result<(), String> {
    let mut plan = Plan::default();
    (case.build)(&mut plan);
    if !plan.nodes.is_empty() || !plan.roles.is_empty() {
        // russh checks certificate validity against the system clock before any handler of
        // ours runs, which a simulated clock cannot satisfy; roles need the admin console.
        return Err("the simulated cluster has no SSH nodes and no roles; list the case in \
                    data/skips.toml for sim"
            .into());
    }
    for seed in CASE_SEEDS {
        let setup = setup_for(case, seed);
        let config = RunConfig { seed, schedule: Default::default(), echo_trace: None };
        let result = run_setup(case.name, setup, &config);
        if !result.outcome.is_pass() {
            return Err(format!(
                "seed {seed}: {} (replay: hwa-conformance run --target sim --case {})",
                result.outcome, case.name
            ));
        }
    }
    Ok(())
}

/// Runs simulator scenario `name` over [`SCENARIO_SEEDS`].
pub fn run_scenario(scenario: &hwa_sim::harness::Scenario) -> Result<(), String> {
    for seed in SCENARIO_SEEDS {
        let config = RunConfig { seed, schedule: Default::default(), echo_trace: None };
        let result = hwa_sim::harness::run(scenario, &config);
        if !result.outcome.is_pass() {
            return Err(format!(
                "seed {seed}: {} (replay: hwa-sim run --scenario {} --seed {seed})",
                result.outcome, scenario.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_case_runs_its_command_lines_on_the_simulator() {
        let case = crate::cases::all()
            .into_iter()
            .find(|c| c.name == "headless_flag_refusals")
            .expect("the case exists");
        run_case(case).unwrap();
    }

    #[test]
    fn a_failing_program_fails_the_case_with_its_replay_seed() {
        static FAILS: Case = Case {
            name: "fails",
            about: "a program that reports a broken rule",
            requirements: &["HL-01"],
            build: |plan| {
                plan.machine("remote", "alice", Role::Remote, |_| async {
                    Err("HL-01: broken on purpose".to_owned())
                })
            },
        };
        let message = run_case(&FAILS).unwrap_err();
        assert!(message.starts_with("seed 0:"), "{message}");
        assert!(message.contains("HL-01: broken on purpose"), "{message}");
        assert!(message.contains("--case fails"), "{message}");
    }
}
