//! The WebAuthn assertion checks (SPEC section 3), each by a fault switch of the virtual
//! authenticator: alice's approval with the faulty authenticator must be refused, and the
//! same approval with the honest one then succeeds. Targets whose authenticator cannot carry
//! faults skip these (see `data/skips.toml`).

use hwa_virtual_authenticator::{CounterFault, Faults};

use crate::plan::{Case, Plan, Role};

use super::{approve, read_id, remote_ls, require, signed_up_laptop};

macro_rules! wa_case {
    ($name:ident, $id:literal, $about:literal, $faults:expr, $refused:literal) => {
        fn $name(plan: &mut Plan) {
            fault_case(plan, $id, $faults, $refused);
        }
    };
}

wa_case!(wa_uv, "WA-UV", "", Faults { no_user_verification: true, ..Default::default() }, true);
wa_case!(wa_up, "WA-UP", "", Faults { no_user_presence: true, ..Default::default() }, true);
wa_case!(
    wa_origin,
    "WA-ORIGIN",
    "",
    Faults { wrong_origin: Some("https://evil.example:3080".into()), ..Default::default() },
    true
);
wa_case!(
    wa_rp_id,
    "WA-RP-ID",
    "",
    Faults { wrong_rp_id: Some("evil.example".into()), ..Default::default() },
    true
);
wa_case!(
    wa_signature,
    "WA-SIGNATURE",
    "",
    Faults { bogus_signature: true, ..Default::default() },
    true
);
wa_case!(
    wa_backup,
    "WA-BACKUP",
    "",
    Faults { inconsistent_backup_flags: true, ..Default::default() },
    true
);
wa_case!(
    wa_counter,
    "WA-COUNTER",
    "",
    Faults { counter: CounterFault::RolledBack, ..Default::default() },
    true
);
wa_case!(
    wa_extensions,
    "WA-EXTENSIONS",
    "",
    Faults { unsolicited_extension: true, ..Default::default() },
    false
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
];

/// Alice approves with `faults` switched on: refused (for `refused == false`: accepted, or
/// refused with a message naming the extension), then approves with the honest authenticator
/// when the first attempt was refused, and the login completes.
fn fault_case(plan: &mut Plan, id_name: &'static str, faults: Faults, refused: bool) {
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
        }
        if faulty.exit_code == 0 {
            return Ok(());
        }
        let honest = approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await;
        honest.ok(&format!("{id_name}: the honest approval after the refused one"))?;
        Ok(())
    });
}
