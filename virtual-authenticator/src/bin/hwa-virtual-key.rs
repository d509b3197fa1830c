//! `hwa-virtual-key`: a software FIDO2 security key on a device node, for trying `hwa` with
//! `--authenticator=usb:PATH` (and any CTAP-HID client) on a machine without a key.
//!
//! ```text
//! hwa-virtual-key --pin 4321 --authenticator-file key.json
//! virtual security key at /dev/pts/7 (Ctrl-C unplugs it)
//! ```
//!
//! Its credentials live in the authenticator file (mode 0600) or, without one, in memory
//! until it stops. It is for development and tests: the private keys are in that file.

use std::path::PathBuf;

use clap::Parser;
use hwa_core::entropy::OsEntropy;
use hwa_virtual_authenticator::{
    PluggedKey, SoftAuthenticator, UserVerification, VirtualSecurityKey,
};

#[derive(Debug, Parser)]
#[command(name = "hwa-virtual-key", about = "A software FIDO2 security key on a device node")]
struct Args {
    /// The key's PIN.
    #[arg(long, conflicts_with_all = ["no_pin", "built_in_uv"])]
    pin: Option<String>,
    /// A key whose PIN is not set yet.
    #[arg(long)]
    no_pin: bool,
    /// A key that verifies its user itself (as a fingerprint reader would), without a PIN.
    #[arg(long, conflicts_with = "no_pin")]
    built_in_uv: bool,
    /// Keep credentials in this JSON file (created 0600) instead of memory.
    #[arg(long = "authenticator-file", value_name = "KEY.json")]
    authenticator_file: Option<PathBuf>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let verification = match (&args.pin, args.no_pin, args.built_in_uv) {
        (Some(pin), _, _) => {
            if let Err(e) = hwa_ctap::pin::check_pin(pin) {
                return fail(&e.to_string());
            }
            UserVerification::Pin(pin.clone())
        }
        (None, true, _) => UserVerification::NoPin,
        (None, false, true) => UserVerification::BuiltIn,
        (None, false, false) => return fail("give --pin PIN, --no-pin or --built-in-uv"),
    };
    let authenticator = match &args.authenticator_file {
        Some(path) => match SoftAuthenticator::open_file(path) {
            Ok(a) => a,
            Err(e) => return fail(&format!("cannot open {}: {e}", path.display())),
        },
        None => SoftAuthenticator::in_memory(OsEntropy::shared()),
    };
    let key = VirtualSecurityKey::new(authenticator, verification, OsEntropy::shared());
    let plugged = match PluggedKey::plug_in(key) {
        Ok(p) => p,
        Err(e) => return fail(&format!("cannot make a device node: {e}")),
    };
    #[allow(clippy::print_stdout)]
    {
        println!("virtual security key at {} (Ctrl-C unplugs it)", plugged.path().display());
    }
    let _ = tokio::signal::ctrl_c().await;
    drop(plugged);
    std::process::ExitCode::SUCCESS
}

fn fail(message: &str) -> std::process::ExitCode {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("hwa-virtual-key: {message}");
    }
    std::process::ExitCode::from(2)
}
