//! `hwa ls`: the nodes the user may see, as a table on standard output.
//!
//! With a headless login the listing is authorized by the in-memory certificate (the `HwaCert`
//! header); otherwise by the session profile of `hwa login`. When neither `--headless` nor
//! `--auth` is given, the proxy's ping decides: `connector_name: headless` makes headless the
//! default (SPEC HL-23). Label filters (`env=prod`) are applied by the client.

use http::Method;
use hwa_core::SharedClock;
use hwa_core::api::{NodeList, NodeView, PingResponse, RequestScope};
use hwa_core::memlock::MlockMode;

use crate::env::ClientEnv;
use crate::error::ClientError;
use crate::headless::{HeadlessIdentity, HeadlessParams, headless_login};
use crate::http::{Call, HttpClient, Trust};
use crate::profile::{Profile, saved_session};
use crate::proxy_url::ProxyUrl;

/// The path `hwa ls` reads.
const NODES_PATH: &str = "/webapi/nodes";

/// How `hwa ls`, `hwa ssh` and `hwa scp` log in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginChoice {
    /// `--headless`, `HWA_HEADLESS=1` or `--auth=headless`.
    Headless,
    /// `--auth=<other>`: the session profile.
    Session,
    /// Nothing said: the proxy's default connector decides.
    ProxyDefault,
}

/// `hwa ls`.
#[derive(Clone, Debug)]
pub struct ListParams {
    pub proxy: ProxyUrl,
    pub trust: Trust,
    pub user: String,
    /// No user was given, so `user` is the OS user; the client says so before asking.
    pub user_is_os_default: bool,
    pub login: LoginChoice,
    /// The `--mlock` mode as given (resolved here once the login method is known).
    pub mlock: MlockMode,
    /// `label=value` filters; a node must carry every one.
    pub labels: Vec<(String, String)>,
}

/// Lists the nodes, logging in as `params.login` says.
pub async fn list_nodes(
    env: &mut ClientEnv,
    params: &ListParams,
) -> Result<Vec<NodeView>, ClientError> {
    let client = HttpClient::new(env.net.clone(), params.proxy.clone(), &params.trust)?;
    let headless = match params.login {
        LoginChoice::Headless => true,
        LoginChoice::Session => false,
        LoginChoice::ProxyDefault => headless_by_default(&client).await?,
    };
    let nodes = if headless {
        let scope = RequestScope { command: command_summary(&params.labels), ..Default::default() };
        let headless_params = HeadlessParams {
            proxy: params.proxy.clone(),
            trust: params.trust.clone(),
            user: params.user.clone(),
            mlock: params.mlock.resolve(true),
            scope,
        };
        if params.user_is_os_default {
            let note = crate::cli::os_user_note(&params.user);
            env.say(&note).await.map_err(|e| ClientError::io("writing to standard error", e))?;
        }
        let identity = headless_login(env, &headless_params).await?;
        nodes_with_certificate(&env.clock, &client, &identity).await?
    } else {
        let profile = saved_session(env.home.as_deref(), &params.proxy)?;
        nodes_with_session(&client, &profile).await?
    };
    Ok(filter(nodes, &params.labels))
}

/// Whether the proxy makes headless the login of commands that name none: its default
/// connector is `headless` and headless login is allowed (SPEC HL-23).
pub async fn headless_by_default(client: &HttpClient) -> Result<bool, ClientError> {
    let ping: PingResponse = client.json(&Call::new(Method::GET, "/webapi/ping")).await?;
    Ok(ping.auth.connector_name.as_deref() == Some("headless") && ping.auth.headless_allowed)
}

/// `GET /webapi/nodes` authorized by a headless certificate.
pub async fn nodes_with_certificate(
    clock: &SharedClock,
    client: &HttpClient,
    identity: &HeadlessIdentity,
) -> Result<Vec<NodeView>, ClientError> {
    let auth = identity.authorization("GET", NODES_PATH, clock.now())?;
    let list: NodeList = client.json(&Call::new(Method::GET, NODES_PATH).auth(Some(auth))).await?;
    Ok(list.nodes)
}

/// `GET /webapi/nodes` authorized by a session.
pub async fn nodes_with_session(
    client: &HttpClient,
    profile: &Profile,
) -> Result<Vec<NodeView>, ClientError> {
    let list: NodeList =
        client.json(&Call::new(Method::GET, NODES_PATH).bearer(&profile.token)).await?;
    Ok(list.nodes)
}

/// The nodes as a table: Node, Address, Labels (sorted `k=v`, comma separated).
pub fn table(nodes: &[NodeView]) -> String {
    let rows: Vec<[String; 3]> = nodes
        .iter()
        .map(|n| {
            let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            [n.name.clone(), n.addr.clone(), labels.join(",")]
        })
        .collect();
    let header = ["Node".to_owned(), "Address".to_owned(), "Labels".to_owned()];
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let rule = widths.map(|w| "-".repeat(w));
    let mut out = String::new();
    for row in std::iter::once(&header).chain(std::iter::once(&rule)).chain(rows.iter()) {
        let line =
            format!("{:<a$} {:<b$} {}", row[0], row[1], row[2], a = widths[0], b = widths[1]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Parses `label=value` arguments.
pub fn parse_labels(args: &[String]) -> Result<Vec<(String, String)>, ClientError> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(ClientError::Usage(format!("`{a}` is not a label filter; use label=value"))),
        })
        .collect()
}

fn filter(nodes: Vec<NodeView>, labels: &[(String, String)]) -> Vec<NodeView> {
    nodes.into_iter().filter(|n| labels.iter().all(|(k, v)| n.labels.get(k) == Some(v))).collect()
}

fn command_summary(labels: &[(String, String)]) -> String {
    let mut text = "ls".to_owned();
    for (k, v) in labels {
        text.push_str(&format!(" {k}={v}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn node(name: &str, addr: &str, labels: &[(&str, &str)]) -> NodeView {
        NodeView {
            name: name.into(),
            addr: addr.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn the_table_has_aligned_columns_and_sorted_labels() {
        let nodes = vec![
            node("node-1", "127.0.0.1:3022", &[("env", "dev"), ("arch", "x86_64")]),
            node("a-much-longer-node", "10.0.0.2:3022", &[]),
        ];
        insta::assert_snapshot!(table(&nodes));
    }

    #[test]
    fn label_filters_keep_only_nodes_carrying_every_label() {
        let nodes = vec![node("a", "x", &[("env", "dev")]), node("b", "y", &[("env", "prod")])];
        let labels = parse_labels(&["env=prod".into()]).unwrap();
        let kept = filter(nodes, &labels);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].name, "b");
        assert!(parse_labels(&["noequals".into()]).is_err());
    }
}
