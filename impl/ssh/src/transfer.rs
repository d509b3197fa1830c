//! File transfer over SFTP: `hwa scp`.
//!
//! [`Sftp::upload`] and [`Sftp::download`] copy between the local disk and one node;
//! [`copy_between`] streams from one node to another through this client without touching the
//! local disk (SPEC HL-19: node-to-node `scp` with one approval, since both connections use the
//! same certificate). All three follow `scp`'s rule for targets: when the destination is an
//! existing directory the source is copied into it under its own name.
//!
//! Directories are copied only when asked (`recursive`). Symbolic links inside a copied tree
//! are skipped rather than followed, so a link loop or a link out of the tree cannot make a
//! copy endless or reach files the user did not name.
//!
//! # Limitations
//! - Only permission bits are carried over; owners and times are not (like `scp` without
//!   `-p`).
//! - A remote directory listing is read whole before copying; [`TREE_ENTRIES_MAX`] bounds the
//!   whole copy.

use std::path::{Path, PathBuf};

use russh_sftp::client::SftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use tokio::io::AsyncWriteExt;
use tracing::debug;

use crate::connect::SshConnection;
use crate::error::SshError;

/// Most files and directories one recursive copy visits: far above any tree a person copies
/// with `scp -r`, and low enough that a hostile node cannot keep a client busy forever.
pub const TREE_ENTRIES_MAX: usize = 100_000;

/// The subsystem name of SFTP (draft-ietf-secsh-filexfer-02, section 1).
const SFTP_SUBSYSTEM: &str = "sftp";

/// Permission bits carried over to copies.
const MODE_PERMISSION_BITS: u32 = 0o7777;

/// An SFTP session on one node.
pub struct Sftp {
    session: SftpSession,
    addr: String,
}

impl std::fmt::Debug for Sftp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sftp").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl SshConnection {
    /// Starts the SFTP subsystem on a new channel.
    pub async fn sftp(&self) -> Result<Sftp, SshError> {
        let channel = self.open_session().await?;
        channel.request_subsystem(true, SFTP_SUBSYSTEM).await.map_err(SshError::Channel)?;
        let session = SftpSession::new(channel.into_stream()).await.map_err(SshError::SftpStart)?;
        Ok(Sftp { session, addr: self.addr.clone() })
    }
}

/// One file or directory still to copy.
struct Job<S, D> {
    src: S,
    dst: D,
    is_dir: bool,
}

impl Sftp {
    /// The underlying session, for operations this module does not wrap.
    pub fn session(&self) -> &SftpSession {
        &self.session
    }

    /// Copies the local file (or, with `recursive`, directory) `local` to `remote`. Returns the
    /// number of bytes copied.
    pub async fn upload(
        &self,
        local: &Path,
        remote: &str,
        recursive: bool,
    ) -> Result<u64, SshError> {
        let meta = tokio::fs::metadata(local).await.map_err(|e| local_err(local, e))?;
        if meta.is_dir() && !recursive {
            return Err(SshError::IsDirectory { path: local.display().to_string() });
        }
        let name = local.file_name().map(|n| n.to_string_lossy().into_owned());
        let dst = self.resolve_target(remote, name.as_deref()).await;
        let mut jobs = vec![Job { src: local.to_path_buf(), dst, is_dir: meta.is_dir() }];
        let mut copied = 0u64;
        let mut visited = 0usize;
        while let Some(job) = jobs.pop() {
            visited += 1;
            if visited > TREE_ENTRIES_MAX {
                return Err(too_many(local.display().to_string()));
            }
            if job.is_dir {
                self.ensure_remote_dir(&job.dst).await?;
                let mut entries =
                    tokio::fs::read_dir(&job.src).await.map_err(|e| local_err(&job.src, e))?;
                while let Some(entry) =
                    entries.next_entry().await.map_err(|e| local_err(&job.src, e))?
                {
                    let kind = entry.file_type().await.map_err(|e| local_err(&job.src, e))?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if kind.is_symlink() || !(kind.is_dir() || kind.is_file()) {
                        debug!(target: "hwa_ssh", name = %name, "skipping a non-regular entry");
                        continue;
                    }
                    let dst = join_remote(&job.dst, &name);
                    jobs.push(Job { src: entry.path(), dst, is_dir: kind.is_dir() });
                }
            } else {
                copied += self.upload_file(&job.src, &job.dst).await?;
            }
        }
        Ok(copied)
    }

    /// Copies the remote file (or, with `recursive`, directory) `remote` to `local`. Returns
    /// the number of bytes copied.
    pub async fn download(
        &self,
        remote: &str,
        local: &Path,
        recursive: bool,
    ) -> Result<u64, SshError> {
        let attrs = self.stat(remote).await?;
        if attrs.is_dir() && !recursive {
            return Err(SshError::IsDirectory { path: remote.to_string() });
        }
        let dst = match tokio::fs::metadata(local).await {
            Ok(m) if m.is_dir() => local.join(safe_name(base_name(remote))?),
            _ => local.to_path_buf(),
        };
        let mut jobs = vec![Job { src: remote.to_string(), dst, is_dir: attrs.is_dir() }];
        let mut copied = 0u64;
        let mut visited = 0usize;
        while let Some(job) = jobs.pop() {
            visited += 1;
            if visited > TREE_ENTRIES_MAX {
                return Err(too_many(remote.to_string()));
            }
            if job.is_dir {
                match tokio::fs::create_dir(&job.dst).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(local_err(&job.dst, e)),
                }
                for (name, attrs) in self.list(&job.src).await? {
                    let dst = job.dst.join(safe_name(&name)?);
                    let src = join_remote(&job.src, &name);
                    jobs.push(Job { src, dst, is_dir: attrs.is_dir() });
                }
            } else {
                copied += self.download_file(&job.src, &job.dst).await?;
            }
        }
        Ok(copied)
    }

    async fn upload_file(&self, local: &Path, remote: &str) -> Result<u64, SshError> {
        let mut src = tokio::fs::File::open(local).await.map_err(|e| local_err(local, e))?;
        let mode = src.metadata().await.map_err(|e| local_err(local, e))?;
        let mode = std::os::unix::fs::PermissionsExt::mode(&mode.permissions());
        let mut dst = self.create(remote, mode).await?;
        let n = tokio::io::copy(&mut src, &mut dst).await.map_err(|e| transfer(remote, e))?;
        dst.shutdown().await.map_err(|e| transfer(remote, e))?;
        Ok(n)
    }

    async fn download_file(&self, remote: &str, local: &Path) -> Result<u64, SshError> {
        let mut src = self.session.open(remote).await.map_err(|e| sftp(remote, e))?;
        let mut dst = tokio::fs::File::create(local).await.map_err(|e| local_err(local, e))?;
        let n = tokio::io::copy(&mut src, &mut dst).await.map_err(|e| transfer(remote, e))?;
        dst.flush().await.map_err(|e| local_err(local, e))?;
        Ok(n)
    }

    async fn create(
        &self,
        remote: &str,
        mode: u32,
    ) -> Result<russh_sftp::client::fs::File, SshError> {
        let mut attrs = FileAttributes::empty();
        attrs.permissions = Some(mode & MODE_PERMISSION_BITS);
        let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE;
        self.session
            .open_with_flags_and_attributes(remote, flags, attrs)
            .await
            .map_err(|e| sftp(remote, e))
    }

    async fn stat(&self, remote: &str) -> Result<FileAttributes, SshError> {
        self.session.metadata(remote).await.map_err(|e| sftp(remote, e))
    }

    /// The entries of a remote directory, without `.` and `..` and without symbolic links.
    async fn list(&self, remote: &str) -> Result<Vec<(String, FileAttributes)>, SshError> {
        let dir = self.session.read_dir(remote).await.map_err(|e| sftp(remote, e))?;
        Ok(dir
            .filter(|e| e.file_name() != "." && e.file_name() != "..")
            .filter(|e| !e.metadata().is_symlink())
            .map(|e| (e.file_name(), e.metadata()))
            .collect())
    }

    async fn ensure_remote_dir(&self, remote: &str) -> Result<(), SshError> {
        match self.session.metadata(remote).await {
            Ok(attrs) if attrs.is_dir() => Ok(()),
            _ => self.session.create_dir(remote).await.map_err(|e| sftp(remote, e)),
        }
    }

    /// `remote` itself, or `remote/name` when `remote` is an existing directory.
    async fn resolve_target(&self, remote: &str, name: Option<&str>) -> String {
        match (self.session.metadata(remote).await, name) {
            (Ok(attrs), Some(name)) if attrs.is_dir() => join_remote(remote, name),
            _ => remote.to_string(),
        }
    }
}

/// Streams `src_path` on one node to `dst_path` on another (or the same) node. Returns the
/// number of bytes copied.
pub async fn copy_between(
    src: &Sftp,
    src_path: &str,
    dst: &Sftp,
    dst_path: &str,
    recursive: bool,
) -> Result<u64, SshError> {
    let attrs = src.stat(src_path).await?;
    if attrs.is_dir() && !recursive {
        return Err(SshError::IsDirectory { path: src_path.to_string() });
    }
    let name = safe_name(base_name(src_path))?;
    let target = dst.resolve_target(dst_path, Some(name)).await;
    let mut jobs = vec![Job { src: src_path.to_string(), dst: target, is_dir: attrs.is_dir() }];
    let mut copied = 0u64;
    let mut visited = 0usize;
    while let Some(job) = jobs.pop() {
        visited += 1;
        if visited > TREE_ENTRIES_MAX {
            return Err(too_many(src_path.to_string()));
        }
        if job.is_dir {
            dst.ensure_remote_dir(&job.dst).await?;
            for (name, attrs) in src.list(&job.src).await? {
                let name = safe_name(&name)?;
                let next = Job {
                    src: join_remote(&job.src, name),
                    dst: join_remote(&job.dst, name),
                    is_dir: attrs.is_dir(),
                };
                jobs.push(next);
            }
        } else {
            let mode = src.stat(&job.src).await?.permissions.unwrap_or(0o600);
            let mut reader =
                src.session.open(job.src.as_str()).await.map_err(|e| sftp(&job.src, e))?;
            let mut writer = dst.create(&job.dst, mode).await?;
            copied += tokio::io::copy(&mut reader, &mut writer)
                .await
                .map_err(|e| transfer(&job.dst, e))?;
            writer.shutdown().await.map_err(|e| transfer(&job.dst, e))?;
        }
    }
    Ok(copied)
}

fn join_remote(dir: &str, name: &str) -> String {
    if dir.ends_with('/') { format!("{dir}{name}") } else { format!("{dir}/{name}") }
}

fn base_name(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path)
}

/// A remote-supplied name accepted only when it names an entry inside the directory: a node
/// must not make the client write outside the target by listing `../x` or `a/b`.
fn safe_name(name: &str) -> Result<&str, SshError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(SshError::UnsafeRemoteName { name: name.to_string() });
    }
    Ok(name)
}

fn local_err(path: &Path, source: std::io::Error) -> SshError {
    SshError::Local { path: PathBuf::from(path), source }
}

fn sftp(path: &str, source: russh_sftp::client::error::Error) -> SshError {
    SshError::Sftp { path: path.to_string(), source }
}

fn transfer(path: &str, source: std::io::Error) -> SshError {
    SshError::Transfer { path: path.to_string(), source }
}

fn too_many(path: String) -> SshError {
    SshError::Transfer {
        path,
        source: std::io::Error::other(format!(
            "more than {TREE_ENTRIES_MAX} entries; copy smaller trees"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names_that_leave_the_directory_are_refused() {
        for bad in ["", ".", "..", "a/b", "../etc", "x\0y"] {
            assert!(safe_name(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(safe_name("report.txt").ok(), Some("report.txt"));
    }

    #[test]
    fn base_name_ignores_trailing_slashes() {
        assert_eq!(base_name("/srv/data/"), "data");
        assert_eq!(base_name("file"), "file");
    }
}
