//! The WebAuthn assertion checks (SPEC section 3), each by a fault switch of the virtual
//! authenticator: alice's approval with the faulty authenticator must be refused by the very
//! check the fault aims at (the refusal names it), and the same approval with the honest one
//! then succeeds. Targets whose authenticator cannot carry
//! faults skip these (see `data/skips.toml`).

use hwa_virtual_authenticator::{CounterFault, Faults};

use crate::plan::{Case, Plan, Role};

use super::{approve, read_id, remote_ls, require, signed_up_laptop};

/// A case whose faulty assertion must be refused by the check named `$check` (the relying
/// party's name for it, which the refusal quotes), or for `$refused == false` handled.
macro_rules! wa_case {
    ($name:ident, $id:literal, $check:literal, $faults:expr, $refused:literal) => {
        fn $name(plan: &mut Plan) {
            fault_case(plan, $id, $check, $faults, $refused);
        }
    };
}

wa_case!(
    wa_uv,
    "WA-UV",
    "user_verified",
    Faults { no_user_verification: true, ..Default::default() },
    true
);
wa_case!(
    wa_up,
    "WA-UP",
    "user_present",
    Faults { no_user_presence: true, ..Default::default() },
    true
);
wa_case!(
    wa_origin,
    "WA-ORIGIN",
    "origin",
    Faults { wrong_origin: Some("https://evil.example:3080".into()), ..Default::default() },
    true
);
wa_case!(
    wa_rp_id,
    "WA-RP-ID",
    "rp_id_hash",
    Faults { wrong_rp_id: Some("evil.example".into()), ..Default::default() },
    true
);
wa_case!(
    wa_signature,
    "WA-SIGNATURE",
    "signature",
    Faults { bogus_signature: true, ..Default::default() },
    true
);
wa_case!(
    wa_backup,
    "WA-BACKUP",
    "backup_flags",
    Faults { inconsistent_backup_flags: true, ..Default::default() },
    true
);
wa_case!(
    wa_counter,
    "WA-COUNTER",
    "counter",
    Faults { counter: CounterFault::RolledBack, ..Default::default() },
    true
);
wa_case!(
    wa_extensions,
    "WA-EXTENSIONS",
    "extensions",
    Faults { unsolicited_extension: true, ..Default::default() },
    false
);
wa_case!(
    wa_type,
    "WA-TYPE",
    "response_type",
    Faults { wrong_credential_type: true, ..Default::default() },
    true
);
wa_case!(
    wa_allowed,
    "WA-ALLOWED",
    "allowed_credential",
    Faults { unregistered_credential: true, ..Default::default() },
    true
);
wa_case!(
    wa_user_handle,
    "WA-USER-HANDLE",
    "user_handle",
    Faults { foreign_user_handle: true, ..Default::default() },
    true
);
wa_case!(
    wa_client_data,
    "WA-CLIENT-DATA",
    "client_data_json",
    Faults { client_data_not_utf8: true, ..Default::default() },
    true
);
wa_case!(
    wa_get,
    "WA-GET",
    "type",
    Faults { client_data_type: Some("webauthn.create".into()), ..Default::default() },
    true
);
wa_case!(
    wa_cross_origin,
    "WA-CROSS-ORIGIN",
    "cross_origin",
    Faults { cross_origin: true, ..Default::default() },
    true
);

pub const CASES: &[Case] = &[
    Case {
        name: "wa_user_verification",
        about: "an assertion without the UV flag is refused",
        requirements: &["WA-UV", "WA-UPDATE-LAST"],
        build: wa_uv,
    },
    Case {
        name: "wa_user_presence",
        about: "an assertion without the UP flag is refused",
        requirements: &["WA-UP"],
        build: wa_up,
    },
    Case {
        name: "wa_origin",
        about: "an assertion made for another origin is refused",
        requirements: &["WA-ORIGIN"],
        build: wa_origin,
    },
    Case {
        name: "wa_rp_id",
        about: "authenticator data for another RP ID is refused",
        requirements: &["WA-RP-ID"],
        build: wa_rp_id,
    },
    Case {
        name: "wa_signature",
        about: "a bogus signature is refused",
        requirements: &["WA-SIGNATURE"],
        build: wa_signature,
    },
    Case {
        name: "wa_backup_flags",
        about: "BS set without BE is refused",
        requirements: &["WA-BACKUP"],
        build: wa_backup,
    },
    Case {
        name: "wa_counter_rollback",
        about: "a counter below the stored one is refused as a cloned authenticator",
        requirements: &["WA-COUNTER", "WA-UPDATE-LAST"],
        build: wa_counter,
    },
    Case {
        name: "wa_unsolicited_extension",
        about: "an unsolicited authenticator extension output is handled: ignored, or refused \
                naming it; the honest assertion then succeeds",
        requirements: &["WA-EXTENSIONS"],
        build: wa_extensions,
    },
    Case {
        name: "wa_credential_type",
        about: "an assertion whose credential type is not public-key is refused",
        requirements: &["WA-TYPE"],
        build: wa_type,
    },
    Case {
        name: "wa_unregistered_credential",
        about: "an assertion from a credential the user never registered is refused",
        requirements: &["WA-ALLOWED"],
        build: wa_allowed,
    },
    Case {
        name: "wa_foreign_user_handle",
        about: "an assertion carrying another user's handle is refused",
        requirements: &["WA-USER-HANDLE"],
        build: wa_user_handle,
    },
    Case {
        name: "wa_client_data_not_utf8",
        about: "client data that is not UTF-8 is refused",
        requirements: &["WA-CLIENT-DATA"],
        build: wa_client_data,
    },
    Case {
        name: "wa_client_data_type",
        about: "client data of type webauthn.create is refused for an assertion",
        requirements: &["WA-GET"],
        build: wa_get,
    },
    Case {
        name: "wa_cross_origin",
        about: "client data claiming a cross-origin frame is refused",
        requirements: &["WA-CROSS-ORIGIN"],
        build: wa_cross_origin,
    },
];

/// Alice approves with `faults` switched on: refused (for `refused == false`: accepted, or
/// refused with a message naming the extension), then approves with the honest authenticator
/// when the first attempt was refused, and the login completes.
fn fault_case(
    plan: &mut Plan,
    id_name: &'static str,
    check: &'static str,
    faults: Faults,
    refused: bool,
) {
    plan.user("alice", &["alice"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let out = remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait().await;
        out.ok("alice's hwa ls --headless").map(|_| ())
    });
    signed_up_laptop(plan, "laptop", "alice", move |m| async move {
        let id = read_id(m.board(), "remote", 1).await;
        m.set_faults("alice-key", faults).await?;
        let faulty = approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await;
        m.set_faults("alice-key", Faults::default()).await?;
        if !refused {
            // Handled (SPEC section 3, WebAuthn L3 7.2): ignored, or refused with a message
            // naming the extensions; never an internal error.
            if faulty.exit_code == 0 {
                return Ok(());
            }
            let named = faulty.stderr.contains("extension");
            require(named && !faulty.stderr.contains("internal"), id_name, || {
                format!("an unsolicited extension was not handled clearly:\n{}", faulty.stderr)
            })?;
        } else {
            require(faulty.exit_code != 0, id_name, || {
                format!("the faulty assertion was accepted:\n{}", faulty.stderr)
            })?;
            let named = format!("webauthn check `{check}` failed");
            require(faulty.stderr.contains(&named), id_name, || {
                format!("refused, but not by the `{check}` check:\n{}", faulty.stderr)
            })?;
        }
        if faulty.exit_code == 0 {
            return Ok(());
        }
        let honest = approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await;
        honest.ok(&format!("{id_name}: the honest approval after the refused one"))?;
        Ok(())
    });
}
