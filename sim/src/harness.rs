//! One simulated run: build the cluster a scenario describes, run it step by step under a
//! fault schedule, check safety after every step, heal, then check liveness.
//!
//! Auth servers run the real [`hwa_auth::AuthService`] behind the real proxy
//! ([`hwa_proxy`]) as restartable turmoil hosts sharing one in-memory store, which outlives
//! their crashes as a real etcd cluster would. Client hosts run the real client library
//! ([`hwa_client`]) with turmoil's network, the simulated clock of their host, seeded entropy
//! and the memory-lock outcome the scenario chose.
//!
//! # Phases
//! - **Safety**: faults apply at their scheduled times; after every step the
//!   [`Checker`] examines every store change and client observation.
//! - **Liveness**: once the last scheduled fault has applied, every partition is repaired,
//!   every held message released and every crashed host restarted; from then on every client
//!   program must finish within [`LIVENESS_BOUND`].

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hwa_auth::{AuthConfig, AuthService, PasswordHashing, Seams};
use hwa_core::clock::{SIM_EPOCH, SimClock};
use hwa_core::entropy::SeededEntropy;
use hwa_core::memlock::SimLockBehaviour;
use hwa_core::net::TurmoilNetwork;
use hwa_core::{Clock, SharedClock, UnixMillis};
use hwa_store::SharedStore;
use hwa_store::memory::MemoryStore;

use crate::board::Board;
use crate::hosts::{ClientHost, Keyring, fnv};
use crate::invariants::Checker;
use crate::outcome::Outcome;
use crate::schedule::{Fault, FaultSchedule};
use crate::trace::Trace;

/// Port every simulated proxy listens on: the reference's web port.
pub const PROXY_PORT: u16 = hwa_core::limits::WEB_PROXY_PORT;

/// How long after healing every client program must have finished. A request may legitimately
/// wait its whole 3-minute lifetime, so the bound is that plus a margin for retries.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(240);

/// Simulated time one step advances. One millisecond keeps message interleavings fine-grained.
pub const TICK: Duration = Duration::from_millis(1);

/// Board counter of auth servers that have started listening for the first time.
const LISTENING: &str = "auth-servers-listening";

/// How often the harness sweeps expired items out of the store, in simulated milliseconds.
const SWEEP_EVERY_MS: u64 = 1000;

/// The longest any run may take in simulated time before turmoil stops it.
pub const RUN_LIMIT: Duration = Duration::from_secs(900);

/// A program a client host runs once.
pub type Program = Box<dyn FnOnce(HostCtx) -> Pin<Box<dyn Future<Output = Result<(), String>>>>>;

/// A scenario: a cluster and the programs of its client hosts.
#[derive(Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    /// The SPEC requirement IDs the scenario exercises.
    pub requirements: &'static [&'static str],
    pub build: fn(&mut Setup),
}

struct ClientSpec {
    host: ClientHost,
    remote: bool,
    program: Program,
}

/// What a scenario's `build` function describes.
pub struct Setup {
    pub seed: u64,
    pub board: Board,
    pub keyring: Keyring,
    auth_servers: Vec<String>,
    users: Vec<(String, Vec<String>)>,
    clients: Vec<ClientSpec>,
    preference_yaml: Option<String>,
    clocks: BTreeMap<String, Arc<SimClock>>,
    expectations: Vec<(&'static str, Expectation)>,
    triggers: Vec<Trigger>,
    tick: Duration,
}

/// A check of a scenario's own outcome, made when the run is over.
pub type Expectation = Box<dyn Fn(&Board, &Checker) -> Result<(), String>>;

/// A fault applied at the step a board flag first appears, healed `heal_after` later: for
/// races that must hit a moment no fixed time can name ("as the decision is taken").
struct Trigger {
    flag: String,
    fault: Fault,
    heal: Fault,
    heal_after: Duration,
}

/// How long a triggered crash lasts before the host restarts.
const TRIGGERED_CRASH: Duration = Duration::from_secs(2);

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup").field("seed", &self.seed).field("auth", &self.auth_servers).finish()
    }
}

impl Setup {
    /// An empty cluster of one auth server, for a scenario to describe.
    pub fn new(seed: u64) -> Setup {
        Setup {
            seed,
            board: Board::default(),
            keyring: Keyring::default(),
            auth_servers: vec![auth_server_name(1)],
            users: Vec::new(),
            clients: Vec::new(),
            preference_yaml: None,
            clocks: BTreeMap::new(),
            expectations: Vec::new(),
            triggers: Vec::new(),
            tick: TICK,
        }
    }

    /// Advances simulated time by `tick` per step instead of [`TICK`]: for scenarios that
    /// wait out the 3-minute request lifetime, where millisecond steps only cost time.
    pub fn tick(&mut self, tick: Duration) {
        self.tick = tick;
    }

    /// A check of the scenario's outcome, made when the run is over; a failure is a safety
    /// failure, since each expectation states a rule.
    pub fn expect(
        &mut self,
        what: &'static str,
        check: impl Fn(&Board) -> Result<(), String> + 'static,
    ) {
        self.expectations.push((what, Box::new(move |board, _| check(board))));
    }

    /// At most `n` headless records were ever written (SPEC HL-08: floods write nothing).
    pub fn expect_headless_records_at_most(&mut self, n: usize) {
        self.expectations.push((
            "the store holds no record nobody showed interest in",
            Box::new(move |_, checker| {
                let written = checker.records_written();
                if written <= n {
                    Ok(())
                } else {
                    Err(format!("{written} headless records were written, at most {n} expected"))
                }
            }),
        ));
    }

    /// Crashes `host` at the step the board flag `flag` first appears, and restarts it later.
    pub fn crash_when(&mut self, flag: &str, host: &str) {
        self.triggers.push(Trigger {
            flag: flag.to_owned(),
            fault: Fault::Crash { host: host.to_owned() },
            heal: Fault::Restart { host: host.to_owned() },
            heal_after: TRIGGERED_CRASH,
        });
    }

    /// Runs `n` auth servers (`auth1.sim.test` ... `authN.sim.test`) sharing the store.
    pub fn auth_servers(&mut self, n: usize) {
        self.auth_servers = (1..=n.max(1)).map(auth_server_name).collect();
    }

    /// A user the administrator invited; the invite URL is on the board.
    pub fn user(&mut self, name: &str, logins: &[&str]) {
        self.users.push((name.to_owned(), logins.iter().map(|s| s.to_string()).collect()));
    }

    /// Applies a `cluster_auth_preference` before the cluster starts.
    pub fn preference(&mut self, yaml: &str) {
        self.preference_yaml = Some(yaml.to_owned());
    }

    fn clock(&mut self, host: &str) -> Arc<SimClock> {
        self.clocks.entry(host.to_owned()).or_insert_with(|| SimClock::shared(SIM_EPOCH)).clone()
    }

    /// A machine people approve from (a laptop): it may keep profiles in its home.
    pub fn approver<F, Fut>(&mut self, name: &str, os_user: &str, program: F)
    where
        F: FnOnce(HostCtx) -> Fut + 'static,
        Fut: Future<Output = Result<(), String>> + 'static,
    {
        self.client(name, os_user, false, SimLockBehaviour::Succeed, program);
    }

    /// A remote, shared machine running headless commands: its home must stay empty.
    pub fn remote<F, Fut>(
        &mut self,
        name: &str,
        os_user: &str,
        memlock: SimLockBehaviour,
        program: F,
    ) where
        F: FnOnce(HostCtx) -> Fut + 'static,
        Fut: Future<Output = Result<(), String>> + 'static,
    {
        self.client(name, os_user, true, memlock, program);
    }

    /// A machine an attacker controls.
    pub fn attacker<F, Fut>(&mut self, name: &str, program: F)
    where
        F: FnOnce(HostCtx) -> Fut + 'static,
        Fut: Future<Output = Result<(), String>> + 'static,
    {
        self.client(name, "mallory", false, SimLockBehaviour::Succeed, program);
    }

    fn client<F, Fut>(
        &mut self,
        name: &str,
        os_user: &str,
        remote: bool,
        memlock: SimLockBehaviour,
        program: F,
    ) where
        F: FnOnce(HostCtx) -> Fut + 'static,
        Fut: Future<Output = Result<(), String>> + 'static,
    {
        let clock = self.clock(name);
        let home = std::env::temp_dir().join(format!(
            "hwa-sim-{}-{name}-{}",
            std::process::id(),
            self.seed
        ));
        let host =
            ClientHost { name: name.to_owned(), os_user: os_user.to_owned(), clock, memlock, home };
        let program: Program = Box::new(move |ctx| Box::pin(program(ctx)));
        self.clients.push(ClientSpec { host, remote, program });
    }

    pub fn auth_server_names(&self) -> Vec<String> {
        self.auth_servers.clone()
    }

    pub fn client_names(&self) -> Vec<String> {
        self.clients.iter().map(|c| c.host.name.clone()).collect()
    }
}

/// What a client host's program has to work with.
#[derive(Clone)]
pub struct HostCtx {
    pub host: ClientHost,
    pub board: Board,
    pub keyring: Keyring,
    pub seed: u64,
    pub auth_servers: Vec<String>,
}

impl std::fmt::Debug for HostCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCtx").field("host", &self.host.name).finish()
    }
}

impl HostCtx {
    /// The proxy address of auth server `i` (0-based), as a user would type it.
    pub fn proxy(&self, i: usize) -> String {
        let name = &self.auth_servers[i % self.auth_servers.len()];
        format!("https://{name}:{PROXY_PORT}")
    }

    /// Simulated milliseconds since the run began.
    pub fn now_ms(&self) -> u64 {
        turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub seed: u64,
    pub schedule: FaultSchedule,
    /// Print the trace to standard error as it is recorded.
    pub echo_trace: Option<crate::trace::Echo>,
}

/// How a run ended, with its trace.
#[derive(Debug)]
pub struct RunResult {
    pub outcome: Outcome,
    pub trace: Trace,
    pub sim_ms: u64,
    pub steps: u64,
    pub decisions: BTreeMap<String, String>,
}

/// A clock frozen at the simulation's epoch, for setting up the cluster before time starts.
#[derive(Debug)]
struct EpochClock;

impl Clock for EpochClock {
    fn now(&self) -> UnixMillis {
        SIM_EPOCH
    }
}

/// The domain of the simulated cluster, and its WebAuthn relying party ID. `.test` is reserved
/// for testing (RFC 2606), so no real name can collide.
pub const SIM_DOMAIN: &str = "sim.test";

/// The host name of auth server `i` (1-based).
pub fn auth_server_name(i: usize) -> String {
    format!("auth{i}.{SIM_DOMAIN}")
}

/// The cluster's settings. Approvers' browsers see `https://authN.sim.test:3080` origins, as
/// they would behind real TLS; the simulated network itself carries plain HTTP (there is no
/// eavesdropper on it that the simulation does not put there deliberately).
fn cluster_config(auth_servers: &[String]) -> AuthConfig {
    AuthConfig {
        cluster_name: "sim".into(),
        rp_id: SIM_DOMAIN.into(),
        public_origins: auth_servers.iter().map(|n| format!("https://{n}:{PROXY_PORT}")).collect(),
        public_addr: format!("{}:{PROXY_PORT}", auth_servers[0]),
        url_scheme: "https".into(),
        password_hashing: PasswordHashing::Fast,
    }
}

/// Creates the users and applies the preference before the simulation starts.
fn prepare_cluster(setup: &Setup, store: &SharedStore) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot build the setup runtime: {e}"))?;
    runtime.block_on(async {
        let seams = Seams {
            store: store.clone(),
            clock: Arc::new(EpochClock),
            entropy: SeededEntropy::shared(setup.seed ^ fnv("setup")),
        };
        let (auth, _) = AuthService::open(cluster_config(&setup.auth_servers), seams)
            .await
            .map_err(|e| format!("setup cannot open the auth service: {e}"))?;
        if let Some(yaml) = &setup.preference_yaml {
            auth.apply_resource(yaml, true).await.map_err(|e| format!("setup preference: {e}"))?;
        }
        for (name, logins) in &setup.users {
            let added = auth
                .add_user(hwa_core::admin::UserAdd {
                    user: name.clone(),
                    logins: logins.clone(),
                    roles: Vec::new(),
                })
                .await
                .map_err(|e| format!("setup cannot add {name}: {e}"))?;
            setup.board.set_invite(name, &added.invite_url);
        }
        Ok(())
    })
}

/// Held for the whole of each run; see [`run_setup`].
static RUNS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `scenario` once.
pub fn run(scenario: &Scenario, config: &RunConfig) -> RunResult {
    let mut setup = Setup::new(config.seed);
    (scenario.build)(&mut setup);
    run_setup(scenario.name, setup, config)
}

/// Runs a cluster described by `setup` once; `name` labels the trace. This is how the
/// conformance suite runs its own cases, written once for every target, on the simulator.
pub fn run_setup(name: &str, setup: Setup, config: &RunConfig) -> RunResult {
    // One run at a time per process: task IDs (see `align_task_ids`) and the client hosts'
    // home directories are shared by the whole process, so runs on two threads at once (tests
    // in one binary, a caller's own thread pool) would not replay as the same seed run alone.
    // A run that panicked leaves nothing behind that a later run depends on.
    let _one_at_a_time = RUNS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let trace = Trace::new(config.echo_trace.clone());
    let subscriber = {
        use tracing_subscriber::layer::SubscriberExt;
        tracing_subscriber::registry().with(trace.layer())
    };
    let _guard = tracing::subscriber::set_default(subscriber);
    trace.note(0, format!("scenario {name} seed {} faults: {}", config.seed, config.schedule));
    let mut result = RunResult {
        outcome: Outcome::Pass,
        trace: trace.clone(),
        sim_ms: 0,
        steps: 0,
        decisions: BTreeMap::new(),
    };
    result.outcome = match run_inner(name, setup, config, &trace, &mut result) {
        Ok(outcome) => outcome,
        Err(crash) => Outcome::Crash(crash),
    };
    trace.note(result.sim_ms, format!("end: {}", result.outcome));
    result
}

fn run_inner(
    name: &str,
    mut setup: Setup,
    config: &RunConfig,
    trace: &Trace,
    result: &mut RunResult,
) -> Result<Outcome, String> {
    align_task_ids()?;
    let store_clock: SharedClock = SimClock::shared(SIM_EPOCH);
    let sweeper = MemoryStore::new(store_clock);
    let store: SharedStore = sweeper.clone();
    prepare_cluster(&setup, &store)?;

    let mut sim = turmoil::Builder::new()
        .rng_seed(config.seed)
        .simulation_duration(RUN_LIMIT)
        .tick_duration(setup.tick)
        .enable_random_order()
        .build();

    let cluster = cluster_config(&setup.auth_servers);
    for name in setup.auth_servers.clone() {
        let clock = setup.clock(&name);
        let store = store.clone();
        let cluster = cluster.clone();
        let seed = config.seed ^ fnv(&name);
        let boots = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let host_name = name.clone();
        let board = setup.board.clone();
        sim.host(host_name.as_str(), move || {
            let boot = boots.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let up = (boot == 0).then(|| board.clone());
            auth_server(
                name.clone(),
                cluster.clone(),
                store.clone(),
                clock.clone(),
                seed ^ boot,
                up,
            )
        });
    }

    let mut remote_homes = Vec::new();
    let mut client_names = BTreeSet::new();
    let mut homes = Homes(Vec::new());
    for spec in std::mem::take(&mut setup.clients) {
        let _ = std::fs::remove_dir_all(&spec.host.home);
        homes.0.push(spec.host.home.clone());
        std::fs::create_dir_all(&spec.host.home)
            .map_err(|e| format!("cannot make a home for {}: {e}", spec.host.name))?;
        if spec.remote {
            remote_homes.push((spec.host.name.clone(), spec.host.home.clone()));
        }
        client_names.insert(spec.host.name.clone());
        let ctx = HostCtx {
            host: spec.host.clone(),
            board: setup.board.clone(),
            keyring: setup.keyring.clone(),
            seed: config.seed,
            auth_servers: setup.auth_servers.clone(),
        };
        let program = spec.program;
        let name = spec.host.name.clone();
        let servers = setup.auth_servers.len() as u64;
        sim.client(name.as_str(), async move {
            // People start working once the cluster is up, as after a deployment; a server
            // that goes away later is what fault schedules are for.
            ctx.board.wait_until(|b| (b.count(LISTENING) >= servers).then_some(())).await;
            program(ctx).await.map_err(|e| -> Box<dyn std::error::Error> { e.into() })
        });
    }

    let known: BTreeSet<&str> =
        setup.auth_servers.iter().chain(client_names.iter()).map(String::as_str).collect();
    for scheduled in &config.schedule.faults {
        for host in scheduled.fault.hosts() {
            if !known.contains(host) {
                return Err(format!(
                    "the fault schedule names host `{host}`, which scenario {name} does not have; \
                     its hosts are {}",
                    known.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    let mut checker = Checker::new(store.clone(), remote_homes.clone())?;
    let mut triggers: Vec<(Trigger, Option<u64>)> =
        std::mem::take(&mut setup.triggers).into_iter().map(|t| (t, None)).collect();
    let heal_at = config.schedule.last_at_ms();
    let mut applied_until: Option<u64> = None;
    let mut healed = config.schedule.is_empty();
    let mut crashed = BTreeSet::new();
    let every_host: Vec<String> =
        setup.auth_servers.iter().cloned().chain(client_names.iter().cloned()).collect();

    loop {
        let now_ms = sim.elapsed().as_millis() as u64;
        for scheduled in config.schedule.due(applied_until, now_ms) {
            trace.note(now_ms, format!("fault {}", scheduled.fault));
            apply(&mut sim, &scheduled.fault, &setup.clocks, &mut crashed);
        }
        applied_until = Some(now_ms);
        for trigger in &mut triggers {
            if trigger.1.is_none() && setup.board.count(&trigger.0.flag) > 0 {
                trace.note(now_ms, format!("fault {} (on {})", trigger.0.fault, trigger.0.flag));
                apply(&mut sim, &trigger.0.fault, &setup.clocks, &mut crashed);
                trigger.1 = Some(now_ms + trigger.0.heal_after.as_millis() as u64);
            }
            if let Some(at) = trigger.1
                && at <= now_ms
                && at != u64::MAX
            {
                trace.note(now_ms, format!("fault {}", trigger.0.heal));
                apply(&mut sim, &trigger.0.heal, &setup.clocks, &mut crashed);
                trigger.1 = Some(u64::MAX);
            }
        }
        if !healed && now_ms >= heal_at {
            trace.note(
                now_ms,
                "heal: repair all links, release held messages, restart crashed hosts",
            );
            heal(&mut sim, &every_host, &mut crashed);
            healed = true;
        }

        if now_ms.is_multiple_of(SWEEP_EVERY_MS) {
            // The in-memory store expires items lazily; a real store's sweeper would run on
            // a timer, so deleted-by-expiry events reach watchers without other traffic.
            sweeper.sweep_expired();
        }
        let step = sim.step();
        result.steps += 1;
        result.sim_ms = sim.elapsed().as_millis() as u64;
        if let Err(violation) = checker.step(&setup.board) {
            return Ok(Outcome::Safety(violation));
        }
        match step {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return Ok(Outcome::Crash(e.to_string())),
        }
        if healed && result.sim_ms > heal_at + LIVENESS_BOUND.as_millis() as u64 {
            let waiting: Vec<String> =
                client_names.iter().filter(|n| sim.is_host_running(n.as_str())).cloned().collect();
            return Ok(Outcome::Liveness(format!(
                "{} still running {} s after the network healed",
                waiting.join(", "),
                LIVENESS_BOUND.as_secs()
            )));
        }
        if trace.overflowed() {
            return Ok(Outcome::Crash("the trace overflowed: the run loops".into()));
        }
    }
    if let Err(violation) = checker.finish(&setup.board) {
        return Ok(Outcome::Safety(violation));
    }
    for (what, check) in &setup.expectations {
        if let Err(e) = check(&setup.board, &checker) {
            return Ok(Outcome::Safety(format!("{what}: {e}")));
        }
    }
    result.decisions =
        checker.decisions().into_iter().map(|(id, state)| (id, format!("{state:?}"))).collect();
    Ok(Outcome::Pass)
}

/// The client hosts' home directories, removed when the run is over however it ended.
struct Homes(Vec<std::path::PathBuf>);

impl Drop for Homes {
    fn drop(&mut self) {
        for home in &self.0 {
            let _ = std::fs::remove_dir_all(home);
        }
    }
}

/// Task IDs a run's IDs are aligned to: a multiple of every shard count tokio uses for a
/// single-threaded runtime's task list (four today).
const TASK_ID_ALIGNMENT: u64 = 64;

/// Advances tokio's process-wide task ID counter to the next multiple of
/// [`TASK_ID_ALIGNMENT`].
///
/// A crashed host's runtime shuts its tasks down shard by shard, and a task's shard is its ID
/// modulo the shard count. The order decides which of the host's sockets closes first, and so
/// which close message draws which latency from the simulation's random source. Task IDs
/// come from one counter for the whole process, so without this a seed run a second time in
/// the same process (an exploration, the determinism check, the conformance suite) could crash
/// in a different order than the same seed replayed alone.
fn align_task_ids() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("cannot build the runtime that aligns task IDs: {e}"))?;
    for _ in 0..TASK_ID_ALIGNMENT {
        let id = runtime.spawn(async {}).id();
        let id: u64 = id.to_string().parse().map_err(|_| format!("task ID `{id}` is no number"))?;
        if id % TASK_ID_ALIGNMENT == TASK_ID_ALIGNMENT - 1 {
            return Ok(());
        }
    }
    Err("tokio's task IDs did not reach an aligned value".into())
}

fn apply(
    sim: &mut turmoil::Sim<'_>,
    fault: &Fault,
    clocks: &BTreeMap<String, Arc<SimClock>>,
    crashed: &mut BTreeSet<String>,
) {
    match fault {
        Fault::Partition { a, b } => sim.partition(a.as_str(), b.as_str()),
        Fault::PartitionOneWay { from, to } => sim.partition_oneway(from.as_str(), to.as_str()),
        Fault::Repair { a, b } => sim.repair(a.as_str(), b.as_str()),
        Fault::Hold { a, b } => sim.hold(a.as_str(), b.as_str()),
        Fault::Release { a, b } => sim.release(a.as_str(), b.as_str()),
        Fault::Crash { host } => {
            if crashed.insert(host.clone()) {
                sim.crash(host.as_str());
            }
        }
        Fault::Restart { host } => {
            crashed.remove(host);
            sim.bounce(host.as_str());
        }
        Fault::Skew { host, skew_ms } => {
            if let Some(clock) = clocks.get(host) {
                clock.set_skew_ms(*skew_ms);
            }
        }
        Fault::Latency { a, b, ms } => {
            sim.set_link_latency(a.as_str(), b.as_str(), Duration::from_millis(*ms))
        }
    }
}

fn heal(sim: &mut turmoil::Sim<'_>, hosts: &[String], crashed: &mut BTreeSet<String>) {
    for (i, a) in hosts.iter().enumerate() {
        for b in &hosts[i + 1..] {
            sim.repair(a.as_str(), b.as_str());
            sim.release(a.as_str(), b.as_str());
        }
    }
    for host in std::mem::take(crashed) {
        sim.bounce(host.as_str());
    }
}

/// One auth server: the auth service on the shared store behind the real proxy.
async fn auth_server(
    name: String,
    cluster: AuthConfig,
    store: SharedStore,
    clock: Arc<SimClock>,
    seed: u64,
    first_boot: Option<Board>,
) -> turmoil::Result {
    let seams = Seams { store, clock, entropy: SeededEntropy::shared(seed) };
    let (auth, _) = AuthService::open(cluster.clone(), seams).await?;
    let config = hwa_proxy::ProxyConfig {
        listen: (std::net::Ipv4Addr::UNSPECIFIED, PROXY_PORT).into(),
        public_addr: format!("{name}:{PROXY_PORT}"),
        tls: hwa_proxy::TlsMode::PlainSimulatedNetwork,
        cluster_name: cluster.cluster_name.clone(),
    };
    let bound = hwa_proxy::bind(&config, &TurmoilNetwork::shared()).await?;
    if let Some(board) = first_boot {
        board.bump(LISTENING);
    }
    bound.serve(auth, std::future::pending()).await;
    Ok(())
}

/// The names of a scenario's auth servers and client hosts, without running it.
pub fn host_names(scenario: &Scenario, seed: u64) -> (Vec<String>, Vec<String>) {
    let mut setup = Setup::new(seed);
    (scenario.build)(&mut setup);
    (setup.auth_server_names(), setup.client_names())
}
