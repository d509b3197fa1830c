//! The handlers, one file per surface.
//!
//! | file | surface |
//! |---|---|
//! | [`api`] | `/webapi/...`, the JSON API of `hwa_core::api` |
//! | [`caller`] | session-or-certificate callers (`GET /webapi/nodes`) |
//! | [`admin`] | `/v1/admin/...`, the JSON and YAML API of `hwa_core::admin` |
//! | [`nodes`] | node joining, the node admin calls, and the SSH tunnel to nodes |
//! | [`pages`] | `/web/...`, the login, signup and approval pages and their assets |

pub mod admin;
pub mod api;
pub mod caller;
pub mod nodes;
pub mod pages;
