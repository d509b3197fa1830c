//! The node inventory: `nodes/<name>` with the node's address and labels, written when a node
//! registers, listed filtered by what the caller's roles allow (and, for a headless
//! certificate, by the nodes its approval named).

use std::collections::BTreeSet;

use hwa_core::api::NodeView;
use hwa_store::Store;

use crate::error::AuthError;
use crate::kv;
use crate::roles::Permissions;

/// Nodes listed at most.
pub const NODES_MAX: usize = 100_000;
/// Longest node name: a DNS name.
const NODE_NAME_MAX: usize = 253;
/// Labels per node and the longest label name or value, as in the reference's limits.
const LABELS_MAX: usize = 64;
const LABEL_TEXT_MAX: usize = 256;

fn node_key(name: &str) -> String {
    format!("nodes/{name}")
}

pub fn validate(node: &NodeView) -> Result<(), AuthError> {
    let bad =
        |why: &str| Err(AuthError::InvalidNode(crate::users::shorten(&node.name), why.into()));
    let name_ok = !node.name.is_empty()
        && node.name.len() <= NODE_NAME_MAX
        && node.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !name_ok {
        return bad("use a host name of letters, digits, `.`, `_` and `-`");
    }
    if node.addr.is_empty() || node.addr.len() > NODE_NAME_MAX + 6 || node.addr.contains('/') {
        return bad("the address must be host:port");
    }
    if node.labels.len() > LABELS_MAX {
        return bad("a node has at most 64 labels");
    }
    if node
        .labels
        .iter()
        .any(|(k, v)| k.is_empty() || k.len() > LABEL_TEXT_MAX || v.len() > LABEL_TEXT_MAX)
    {
        return bad("label names are 1 to 256 characters, values at most 256");
    }
    Ok(())
}

pub async fn upsert(store: &dyn Store, node: &NodeView) -> Result<(), AuthError> {
    validate(node)?;
    kv::put(store, &node_key(&node.name), node, None).await?;
    Ok(())
}

/// Nodes `permissions` allow, restricted to `only` when it is not empty, in name order.
pub async fn list(
    store: &dyn Store,
    permissions: &Permissions,
    only: &[String],
) -> Result<Vec<NodeView>, AuthError> {
    let only: BTreeSet<&str> = only.iter().map(String::as_str).collect();
    let all = kv::range::<NodeView>(store, "nodes/", NODES_MAX).await?;
    Ok(all
        .into_iter()
        .map(|(_, node)| node)
        .filter(|node| only.is_empty() || only.contains(node.name.as_str()))
        .filter(|node| permissions.allows_node(&node.labels))
        .collect())
}
