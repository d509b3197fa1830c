//! The virtual security key on a device node, speaking CTAP-HID as a USB key does through
//! Linux `hidraw`: 64-byte reports (65 written, with the report ID 0 first), channels from
//! `CTAPHID_INIT`, messages split across continuation packets, keep-alives while the person is
//! asked to touch the key, `CTAPHID_CANCEL`, and a busy answer to a second channel.
//!
//! The node is a pseudo-terminal in raw mode: this machine's kernel may lack `uhid`, which
//! would make a real hidraw node, and a pty carries the same reports through the same
//! `open`, `read` and `write` calls. The client opens its path like `/dev/hidraw3`.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use passkey_transports::hid::{ChannelHandler, Command, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::security_key::VirtualSecurityKey;

const REPORT: usize = 64;
const BROADCAST: u32 = 0xFFFF_FFFF;
/// CTAPHID protocol version 2; device version 0.1.0; capabilities WINK off, CBOR on, MSG off.
const INIT_TAIL: [u8; 5] = [2, 0, 1, 0, 0x04 | 0x08];
const KEEPALIVE_EVERY: Duration = Duration::from_millis(100);
/// Keep-alive status bytes.
const PROCESSING: u8 = 1;
const UP_NEEDED: u8 = 2;
/// CTAPHID error codes.
const ERR_INVALID_LEN: u8 = 0x03;
const ERR_CHANNEL_BUSY: u8 = 0x06;
const ERR_INVALID_CHANNEL: u8 = 0x0B;
/// The CTAP2 status a cancelled request answers.
const KEEPALIVE_CANCEL: u8 = 0x2D;

/// A virtual key plugged in at a device node; unplugged when dropped.
#[derive(Debug)]
pub struct PluggedKey {
    path: PathBuf,
    key: Arc<Mutex<VirtualSecurityKey>>,
    tasks: Vec<JoinHandle<()>>,
    /// The key's own handle on the node, so the node lives while clients come and go.
    _node: OwnedFd,
}

impl PluggedKey {
    /// Makes a device node for `key` and starts answering on it. Needs a Tokio runtime.
    pub fn plug_in(key: VirtualSecurityKey) -> io::Result<PluggedKey> {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let controller = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&controller)?;
        unlockpt(&controller)?;
        let name = ptsname(&controller, Vec::new())?;
        let path = PathBuf::from(name.to_str().map_err(io::Error::other)?);
        let node: OwnedFd = std::fs::OpenOptions::new().read(true).write(true).open(&path)?.into();
        let mut mode = rustix::termios::tcgetattr(&node)?;
        mode.make_raw();
        rustix::termios::tcsetattr(&node, rustix::termios::OptionalActions::Now, &mode)?;

        let reader = tokio::fs::File::from_std(std::fs::File::from(controller.try_clone()?));
        let writer = tokio::fs::File::from_std(std::fs::File::from(controller));
        let key = Arc::new(Mutex::new(key));
        let (packets_tx, packets_rx) = mpsc::channel(64);
        let read_task = tokio::spawn(read_reports(reader, packets_tx));
        let serve_task = tokio::spawn(serve(Arc::clone(&key), packets_rx, writer));
        Ok(PluggedKey { path, key, tasks: vec![read_task, serve_task], _node: node })
    }

    /// The node to hand the client, as `--authenticator=usb:PATH`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key, to look at (its PIN retries, its credentials) or change between requests.
    pub fn key(&self) -> Arc<Mutex<VirtualSecurityKey>> {
        Arc::clone(&self.key)
    }
}

impl Drop for PluggedKey {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Reads 65-byte writes (report ID, then a report) and passes the reports on.
async fn read_reports(mut reader: tokio::fs::File, packets: mpsc::Sender<[u8; REPORT]>) {
    let mut buf = [0u8; REPORT + 1];
    loop {
        if let Err(e) = reader.read_exact(&mut buf).await {
            tracing::debug!(target: "hwa_virtual_authenticator", "HID node closed: {e}");
            return;
        }
        if buf[0] != 0 {
            tracing::warn!(target: "hwa_virtual_authenticator", "report with ID {}", buf[0]);
            continue;
        }
        let mut report = [0u8; REPORT];
        report.copy_from_slice(&buf[1..]);
        if packets.send(report).await.is_err() {
            return;
        }
    }
}

struct Wire {
    writer: tokio::fs::File,
}

impl Wire {
    async fn send(&mut self, channel: u32, command: Command, data: &[u8]) {
        let mut bytes = Vec::new();
        let written = Message::new(channel, command, data)
            .map_err(|e| io::Error::other(format!("{e:?}")))
            .and_then(|m| m.send(&mut bytes));
        if let Err(e) = written {
            tracing::warn!(target: "hwa_virtual_authenticator", "cannot frame a reply: {e}");
            return;
        }
        for report in bytes.chunks(REPORT) {
            // One write per report, so that a reader gets whole reports.
            let done = self.writer.write_all(report).await;
            if let Err(e) = done.and(self.writer.flush().await) {
                tracing::debug!(target: "hwa_virtual_authenticator", "HID write failed: {e}");
                return;
            }
        }
    }

    async fn error(&mut self, channel: u32, code: u8) {
        self.send(channel, Command::Err, &[code]).await;
    }
}

/// Answers CTAP-HID messages until the node closes.
async fn serve(
    key: Arc<Mutex<VirtualSecurityKey>>,
    mut packets: mpsc::Receiver<[u8; REPORT]>,
    writer: tokio::fs::File,
) {
    let mut wire = Wire { writer };
    let mut reassembly = ChannelHandler::default();
    let mut next_channel: u32 = 1;
    while let Some(packet) = packets.recv().await {
        let Some(message) = reassembly.handle_packet(&packet) else {
            continue;
        };
        let channel = message.channel;
        match message.command {
            Command::Init => {
                if message.payload.len() != 8 {
                    wire.error(channel, ERR_INVALID_LEN).await;
                    continue;
                }
                let assigned = if channel == BROADCAST {
                    next_channel = next_channel.wrapping_add(1).max(1);
                    next_channel
                } else {
                    channel
                };
                let mut reply = message.payload.clone();
                reply.extend_from_slice(&assigned.to_le_bytes());
                reply.extend_from_slice(&INIT_TAIL);
                wire.send(channel, Command::Init, &reply).await;
            }
            Command::Ping => wire.send(channel, Command::Ping, &message.payload).await,
            Command::Cbor if channel == BROADCAST || channel == 0 || channel > next_channel => {
                wire.error(channel, ERR_INVALID_CHANNEL).await;
            }
            Command::Cbor => {
                let reply =
                    transact(&key, &message.payload, channel, &mut packets, &mut wire).await;
                if let Some(reply) = reply {
                    wire.send(channel, Command::Cbor, &reply).await;
                }
            }
            // Nothing is in flight to cancel; other commands are not offered (no MSG, WINK).
            Command::Cancel => {}
            _ => wire.error(channel, 0x01).await,
        }
    }
}

/// Runs one CBOR request, sending keep-alives meanwhile, answering other channels busy, and
/// stopping at a cancel from the requesting channel. `None` when the node closed.
async fn transact(
    key: &Arc<Mutex<VirtualSecurityKey>>,
    request: &[u8],
    channel: u32,
    packets: &mut mpsc::Receiver<[u8; REPORT]>,
    wire: &mut Wire,
) -> Option<Vec<u8>> {
    let status = match request.first() {
        Some(&c) if VirtualSecurityKey::needs_touch(c) => UP_NEEDED,
        _ => PROCESSING,
    };
    let mut key = key.lock().await;
    let work = key.handle(request);
    tokio::pin!(work);
    let mut ticks = tokio::time::interval(KEEPALIVE_EVERY);
    ticks.tick().await;
    loop {
        tokio::select! {
            reply = &mut work => return Some(reply),
            _ = ticks.tick() => wire.send(channel, Command::KeepAlive, &[status]).await,
            packet = packets.recv() => {
                let packet = packet?;
                // The channel as the transport frames it (native order), then the command byte
                // with its initialisation-packet bit.
                let from = u32::from_ne_bytes([packet[0], packet[1], packet[2], packet[3]]);
                let command = packet[4];
                if from == channel && command == (Command::Cancel as u8 | 0x80) {
                    return Some(vec![KEEPALIVE_CANCEL]);
                }
                if from != channel && command & 0x80 != 0 {
                    wire.error(from, ERR_CHANNEL_BUSY).await;
                }
            }
        }
    }
}
