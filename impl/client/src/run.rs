//! Command dispatch: resolves the command line, runs the command, writes `error: <message>`
//! on standard error when it fails, and returns the exit status (0 ok, 1 error, 2 usage).

use crate::cli::{Invocation, resolve};
use crate::env::ClientEnv;
use crate::error::{ClientError, EXIT_ERROR, EXIT_OK};
use crate::nodes::{list_nodes, table};
use crate::remote::{ScpParams, SshParams, scp, ssh};

/// Runs `hwa` with `args` (the program name first) in `env` and returns the exit status.
pub async fn run(args: Vec<String>, mut env: ClientEnv) -> u8 {
    match run_command(&args, &mut env).await {
        Ok(code) => code,
        Err(e) => {
            // Standard error may itself be gone; the exit status still tells.
            let _ = env.say(&format!("error: {e}")).await;
            e.exit_code()
        }
    }
}

/// Runs the command; `Ok` carries the exit status (a remote command's own, for `hwa ssh`).
async fn run_command(args: &[String], env: &mut ClientEnv) -> Result<u8, ClientError> {
    let resolved = resolve(args, env)?;
    for note in &resolved.notes {
        env.say(note).await.map_err(|e| ClientError::io("writing to standard error", e))?;
    }
    let done = match resolved.invocation {
        Invocation::Help(text) => {
            env.term.out(&text).await.map_err(|e| ClientError::io("writing to standard output", e))
        }
        Invocation::Ls(params) => {
            let nodes = list_nodes(env, &params).await?;
            env.term
                .out(&table(&nodes))
                .await
                .map_err(|e| ClientError::io("writing to standard output", e))
        }
        Invocation::Ssh { login, host, command, cluster } => {
            let params = SshParams { cluster, login, host, command };
            return ssh(env, &params).await;
        }
        Invocation::Scp { recursive, paths, cluster } => {
            scp(env, &ScpParams { cluster, recursive, paths }).await.map(|_| ())
        }
        Invocation::Login(params) => crate::session::login(env, &params).await.map(|_| ()),
        Invocation::Signup(params) => crate::session::signup(env, &params).await.map(|_| ()),
        Invocation::Approve(params) => crate::approve::approve(env, &params).await.map(|_| ()),
        Invocation::Watch(params) => crate::approve::watch(env, &params).await.map(|_| ()),
    };
    done.map(|()| EXIT_OK)
}

/// Exit status for a failure outside any command (the runtime could not start).
pub const EXIT_RUNTIME: u8 = EXIT_ERROR;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::tests_support::test_env;

    /// The simulator runs `run` as a turmoil host on a multi-threaded runtime, so its future
    /// must be `Send`.
    #[test]
    fn the_command_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let future = run(Vec::new(), test_env());
        assert_send(&future);
    }

    #[tokio::test]
    async fn ssh_without_a_command_goes_on_to_log_in_for_a_shell() {
        let args: Vec<String> = ["hwa", "ssh", "--headless", "--proxy=localhost:1", "node1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // Nothing listens on port 1: the login is attempted and fails as an error, not usage.
        assert_eq!(run(args, test_env()).await, crate::error::EXIT_ERROR);
    }

    #[tokio::test]
    async fn a_usage_error_exits_with_two() {
        let args: Vec<String> =
            ["hwa", "login", "--headless"].iter().map(|s| s.to_string()).collect();
        assert_eq!(run(args, test_env()).await, crate::error::EXIT_USAGE);
    }
}
