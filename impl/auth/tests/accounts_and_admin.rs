//! Signup, password login, sessions, resources, nodes and the certificate authorization
//! scheme: the parts of the auth service around the headless flow.

mod common;

use common::*;
use hwa_auth::Caller;
use hwa_core::admin::{AuditKind, UserAdd};
use hwa_core::api::{ErrorCode, NodeView};
use std::collections::BTreeMap;

#[tokio::test(start_paused = true)]
async fn the_admin_token_is_given_once_and_rotates() {
    let cluster = Cluster::new().await;
    let first = cluster.admin_token.clone().unwrap();
    cluster.auth.authenticate_admin(&first).await.unwrap();
    let rotated = cluster.auth.rotate_admin_token().await.unwrap();
    assert_eq!(
        cluster.auth.authenticate_admin(&first).await.unwrap_err().code(),
        ErrorCode::Unauthenticated
    );
    cluster.auth.authenticate_admin(&rotated).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_invite_url_names_the_public_address_and_a_short_password_is_refused() {
    let cluster = Cluster::new().await;
    let added = cluster
        .auth
        .add_user(UserAdd { user: "carol".into(), logins: vec!["carol".into()], roles: vec![] })
        .await
        .unwrap();
    assert!(added.invite_url.starts_with("http://localhost:3080/web/invite/"));
    let token = added.invite_url.rsplit('/').next().unwrap();
    assert_eq!(cluster.auth.invite(token).await.unwrap().user, "carol");
    let err = cluster.auth.begin_registration(token, "short").await.unwrap_err();
    assert_eq!(err.to_string(), "the password is too short; choose one of at least 12 characters");
    let again = UserAdd { user: "carol".into(), logins: vec![], roles: vec![] };
    assert_eq!(cluster.auth.add_user(again).await.unwrap_err().code(), ErrorCode::Conflict);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_password_and_an_unknown_user_read_the_same() {
    let cluster = Cluster::new().await;
    cluster.person("alice", &["alice"]).await;
    let wrong = cluster.auth.begin_login("alice", "not the password", ip("10.0.0.1")).await;
    let unknown = cluster.auth.begin_login("mallory", PASSWORD, ip("10.0.0.1")).await;
    assert_eq!(wrong.unwrap_err().to_string(), unknown.unwrap_err().to_string());
}

#[tokio::test(start_paused = true)]
async fn password_then_security_key_gives_a_session_and_logout_ends_it() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let options = cluster.auth.begin_login("alice", PASSWORD, ip("10.0.0.1")).await.unwrap();
    let response = alice.device.authenticate(&options, ORIGIN).await.unwrap();
    let session = cluster.auth.finish_login("alice", &response, ip("10.0.0.1")).await.unwrap();
    assert_eq!(cluster.auth.authenticate_session(&session.token).await.unwrap().user, "alice");
    cluster.auth.logout(&session.token).await.unwrap();
    let err = cluster.auth.authenticate_session(&session.token).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unauthenticated);
    let kinds: Vec<_> = cluster.auth.audit(50).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&AuditKind::UserLogin) && kinds.contains(&AuditKind::UserSignedUp));
}

#[tokio::test(start_paused = true)]
async fn the_preference_reads_back_in_the_guides_format_and_bad_fields_are_named() {
    let cluster = Cluster::new().await;
    let yaml = cluster.auth.resource_yaml("cluster_auth_preference", None).await.unwrap();
    assert!(yaml.starts_with("kind: cluster_auth_preference\nversion: v2\n"), "{yaml}");
    assert!(yaml.contains("rp_id: localhost"));
    let applied = cluster.auth.apply_resource(&yaml, false).await.unwrap();
    assert!(!applied.created);

    let cases = [
        (yaml.replace("type: local", "type: local\n  headles: false"), "headles"),
        (
            "kind: cluster_auth_preference\nversion: v2\nmetadata:\n  name: \
             cluster-auth-preference\nspec:\n  type: local\n  headless: true\n"
                .to_string(),
            "spec.headless",
        ),
        (yaml.clone() + "  headless: false\n  connector_name: headless\n", "spec.connector_name"),
        (yaml.replace("rp_id: localhost", "rp_id: evil.example"), "spec.webauthn.rp_id"),
        (yaml.replace("version: v2", "version: v9"), "version"),
    ];
    for (bad, field) in cases {
        let err = cluster.auth.apply_resource(&bad, false).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::BadRequest);
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    let with_connector = yaml.clone() + "  connector_name: headless\n";
    cluster.auth.apply_resource(&with_connector, false).await.unwrap();
    let settings = cluster.auth.auth_settings().await.unwrap();
    assert_eq!(settings.connector_name.as_deref(), Some("headless"));
    assert!(settings.headless_allowed);
}

#[tokio::test(start_paused = true)]
async fn roles_decide_which_nodes_a_user_lists() {
    let cluster = Cluster::new().await;
    let role = "kind: role\nversion: v1\nmetadata:\n  name: dev\nspec:\n  \
                logins: [\"{{internal.logins}}\"]\n  node_labels:\n    env: [dev]\n";
    assert!(cluster.auth.apply_resource(role, false).await.unwrap().created);
    assert_eq!(
        cluster.auth.apply_resource(role, false).await.unwrap_err().code(),
        ErrorCode::Conflict
    );
    cluster.auth.apply_resource(role, true).await.unwrap();
    let user =
        UserAdd { user: "dana".into(), logins: vec!["dana".into()], roles: vec!["dev".into()] };
    cluster.auth.add_user(user).await.unwrap();
    for (name, env) in [("a", "dev"), ("b", "prod")] {
        let labels = BTreeMap::from([("env".to_string(), env.to_string())]);
        let node = NodeView { name: name.into(), addr: format!("{name}:3022"), labels };
        cluster.auth.upsert_node(node).await.unwrap();
    }
    let caller = Caller::Certificate { user: "dana".into(), principals: vec![], nodes: vec![] };
    let listed = cluster.auth.list_nodes(&caller).await.unwrap();
    assert_eq!(listed.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["a"]);
    assert!(cluster.auth.roles_yaml().await.unwrap().contains("name: access"));
}

#[tokio::test(start_paused = true)]
async fn a_headless_certificate_authenticates_a_signed_request_and_nothing_else() {
    let cluster = Cluster::new().await;
    let mut alice = cluster.person("alice", &["alice"]).await;
    let key = ClientKey::new(9);
    let login = cluster.login("alice", &key, ssh_scope("alice", "node1"));
    cluster.auth.headless_view(&alice.session, &key.id).await.unwrap();
    alice.approve(&cluster.auth, &key.id).await.unwrap();
    let issued = login.await.unwrap().unwrap();
    let now = cluster.clock_now();
    let header = hwa_auth::cert_auth::header(
        &issued.ssh_certificate,
        &key.private,
        "GET",
        "/webapi/nodes",
        now,
    )
    .unwrap();
    let caller = cluster.auth.verify_cert_caller(&header, "GET", "/webapi/nodes").await.unwrap();
    assert_eq!(
        caller,
        Caller::Certificate {
            user: "alice".into(),
            principals: vec!["alice".into()],
            nodes: vec!["node1".into()]
        }
    );
    let other_path = cluster.auth.verify_cert_caller(&header, "GET", "/webapi/other").await;
    assert_eq!(other_path.unwrap_err().code(), ErrorCode::Unauthenticated);
    tokio::time::sleep(std::time::Duration::from_secs(61)).await;
    let expired = cluster.auth.verify_cert_caller(&header, "GET", "/webapi/nodes").await;
    assert_eq!(expired.unwrap_err().code(), ErrorCode::Unauthenticated);
}
