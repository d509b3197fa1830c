//! The SFTP subsystem (draft-ietf-secsh-filexfer-02, version 3) backed by the real file
//! system, which is what stock `sftp` and OpenSSH 9's `scp` speak.
//!
//! This server runs inside the node process, so it is used only when the node process itself
//! runs as the login's account ([`crate::accounts::Account::is_node_user`]): every file
//! access then carries exactly the login's permissions. A root node serving another account
//! runs the system's `sftp-server` as that account instead (see [`crate::channel`]).
//!
//! Relative paths are resolved against the login's home directory, as OpenSSH does.
//!
//! # Limitations
//! - `SSH_FXP_SYMLINK` is not offered (OpenSSH swaps its two arguments relative to the draft,
//!   so clients disagree on its meaning); `setstat` applies permissions and size only.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode,
};
use russh_sftp::server::{Handler, StatusReply};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Most handles (open files and directories) one SFTP session may hold: OpenSSH's
/// `sftp-server` allows a similar few hundred.
pub const HANDLES_MAX: usize = 256;

/// Largest read answered in one packet: the 32 KiB OpenSSH clients ask for, with room for the
/// 64 KiB some other clients use; larger asks are shortened, as the protocol allows.
pub const READ_MAX: u32 = 64 * 1024;

/// Directory entries sent per `SSH_FXP_READDIR` answer, to keep each packet small.
pub const READDIR_CHUNK: usize = 100;

/// Most entries a directory listing holds in memory; a larger directory is listed truncated.
pub const DIR_ENTRIES_MAX: usize = 100_000;

/// Permission bits a client may set.
const MODE_PERMISSION_BITS: u32 = 0o7777;

/// Mode of files and directories created without explicit permissions (before the umask).
const DEFAULT_FILE_MODE: u32 = 0o666;
const DEFAULT_DIR_MODE: u32 = 0o777;

enum OpenHandle {
    File(tokio::fs::File),
    Dir { entries: Vec<File>, sent: usize },
}

/// One SFTP session's state.
pub struct FsSftp {
    home: PathBuf,
    handles: BTreeMap<String, OpenHandle>,
    next_handle: u64,
}

impl std::fmt::Debug for FsSftp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsSftp")
            .field("home", &self.home)
            .field("handles", &self.handles.len())
            .finish()
    }
}

impl FsSftp {
    pub fn new(home: PathBuf) -> FsSftp {
        FsSftp { home, handles: BTreeMap::new(), next_handle: 0 }
    }

    fn resolve(&self, path: &str) -> PathBuf {
        if path.is_empty() { self.home.clone() } else { self.home.join(path) }
    }

    fn insert(&mut self, handle: OpenHandle) -> Result<String, StatusReply> {
        if self.handles.len() >= HANDLES_MAX {
            return Err(StatusCode::Failure.with_message("too many open handles; close some"));
        }
        self.next_handle += 1;
        let name = self.next_handle.to_string();
        self.handles.insert(name.clone(), handle);
        Ok(name)
    }

    fn file(&mut self, handle: &str) -> Result<&mut tokio::fs::File, StatusReply> {
        match self.handles.get_mut(handle) {
            Some(OpenHandle::File(f)) => Ok(f),
            _ => Err(StatusCode::Failure.with_message("no such file handle")),
        }
    }
}

impl Handler for FsSftp {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported.into()
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let mut options = std::fs::OpenOptions::from(pflags);
        let mode = attrs.permissions.map_or(DEFAULT_FILE_MODE, |m| m & MODE_PERMISSION_BITS);
        options.mode(mode);
        let path = self.resolve(&filename);
        let file = tokio::fs::OpenOptions::from(options).open(&path).await.map_err(io_status)?;
        let handle = self.insert(OpenHandle::File(file))?;
        Ok(Handle { id, handle })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        match self.handles.remove(&handle) {
            Some(OpenHandle::File(mut f)) => f.flush().await.map_err(io_status)?,
            Some(OpenHandle::Dir { .. }) => {}
            None => return Err(StatusCode::Failure.with_message("no such handle")),
        }
        Ok(ok(id))
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Self::Error> {
        let file = self.file(&handle)?;
        file.seek(io::SeekFrom::Start(offset)).await.map_err(io_status)?;
        let mut data = vec![0u8; len.min(READ_MAX) as usize];
        let n = file.read(&mut data).await.map_err(io_status)?;
        if n == 0 && !data.is_empty() {
            return Err(StatusCode::Eof.into());
        }
        data.truncate(n);
        Ok(Data { id, data })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Status, Self::Error> {
        let file = self.file(&handle)?;
        file.seek(io::SeekFrom::Start(offset)).await.map_err(io_status)?;
        file.write_all(&data).await.map_err(io_status)?;
        Ok(ok(id))
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let meta = tokio::fs::symlink_metadata(self.resolve(&path)).await.map_err(io_status)?;
        Ok(Attrs { id, attrs: FileAttributes::from(&meta) })
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let meta = self.file(&handle)?.metadata().await.map_err(io_status)?;
        Ok(Attrs { id, attrs: FileAttributes::from(&meta) })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let meta = tokio::fs::metadata(self.resolve(&path)).await.map_err(io_status)?;
        Ok(Attrs { id, attrs: FileAttributes::from(&meta) })
    }

    async fn setstat(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let path = self.resolve(&path);
        if let Some(mode) = attrs.permissions {
            let perms = std::os::unix::fs::PermissionsExt::from_mode(mode & MODE_PERMISSION_BITS);
            tokio::fs::set_permissions(&path, perms).await.map_err(io_status)?;
        }
        if let Some(size) = attrs.size {
            let file = tokio::fs::OpenOptions::new().write(true).open(&path).await;
            file.map_err(io_status)?.set_len(size).await.map_err(io_status)?;
        }
        Ok(ok(id))
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        handle: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let file = self.file(&handle)?;
        if let Some(mode) = attrs.permissions {
            let perms = std::os::unix::fs::PermissionsExt::from_mode(mode & MODE_PERMISSION_BITS);
            file.set_permissions(perms).await.map_err(io_status)?;
        }
        if let Some(size) = attrs.size {
            file.set_len(size).await.map_err(io_status)?;
        }
        Ok(ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let path = self.resolve(&path);
        let mut dir = tokio::fs::read_dir(&path).await.map_err(io_status)?;
        let mut entries = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(io_status)? {
            if entries.len() >= DIR_ENTRIES_MAX {
                tracing::warn!(target: "hwa_node", dir = %path.display(), "listing truncated");
                break;
            }
            let Ok(meta) = entry.metadata().await else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            entries.push(File::new(name, FileAttributes::from(&meta)));
        }
        let handle = self.insert(OpenHandle::Dir { entries, sent: 0 })?;
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        let Some(OpenHandle::Dir { entries, sent }) = self.handles.get_mut(&handle) else {
            return Err(StatusCode::Failure.with_message("no such directory handle"));
        };
        if *sent >= entries.len() {
            return Err(StatusCode::Eof.into());
        }
        let end = (*sent + READDIR_CHUNK).min(entries.len());
        let files = entries[*sent..end].to_vec();
        *sent = end;
        Ok(Name { id, files })
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Self::Error> {
        tokio::fs::remove_file(self.resolve(&filename)).await.map_err(io_status)?;
        Ok(ok(id))
    }

    async fn mkdir(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Self::Error> {
        let mode = attrs.permissions.map_or(DEFAULT_DIR_MODE, |m| m & MODE_PERMISSION_BITS);
        let mut builder = tokio::fs::DirBuilder::new();
        builder.mode(mode);
        builder.create(self.resolve(&path)).await.map_err(io_status)?;
        Ok(ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Self::Error> {
        tokio::fs::remove_dir(self.resolve(&path)).await.map_err(io_status)?;
        Ok(ok(id))
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let path = self.resolve(&path);
        let real = match tokio::fs::canonicalize(&path).await {
            Ok(real) => real,
            Err(_) => normalize(&path),
        };
        let name = real.to_string_lossy().into_owned();
        Ok(Name { id, files: vec![File::dummy(name)] })
    }

    async fn rename(
        &mut self,
        id: u32,
        oldpath: String,
        newpath: String,
    ) -> Result<Status, Self::Error> {
        let (old, new) = (self.resolve(&oldpath), self.resolve(&newpath));
        // Version 3 renames must not replace an existing target (draft section 6.5).
        if tokio::fs::symlink_metadata(&new).await.is_ok() {
            return Err(StatusCode::Failure.with_message("target exists"));
        }
        tokio::fs::rename(old, new).await.map_err(io_status)?;
        Ok(ok(id))
    }

    async fn readlink(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let target = tokio::fs::read_link(self.resolve(&path)).await.map_err(io_status)?;
        Ok(Name { id, files: vec![File::dummy(target.to_string_lossy().into_owned())] })
    }
}

fn ok(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Ok".to_string(),
        language_tag: "en-US".to_string(),
    }
}

fn io_status(e: io::Error) -> StatusReply {
    let code = match e.kind() {
        io::ErrorKind::NotFound => StatusCode::NoSuchFile,
        io::ErrorKind::PermissionDenied => StatusCode::PermissionDenied,
        _ => StatusCode::Failure,
    };
    code.with_message(e.to_string())
}

/// Removes `.` and `..` without touching the file system, for paths that do not exist yet.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots_without_escaping_the_root() {
        assert_eq!(normalize(Path::new("/home/a/./b/../c")), PathBuf::from("/home/a/c"));
        assert_eq!(normalize(Path::new("/../../x")), PathBuf::from("/x"));
    }

    #[tokio::test]
    async fn a_file_written_through_handles_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut sftp = FsSftp::new(dir.path().to_path_buf());
        let flags = OpenFlags::CREATE | OpenFlags::WRITE | OpenFlags::TRUNCATE;
        let h = sftp.open(1, "f.txt".into(), flags, FileAttributes::empty()).await.unwrap();
        sftp.write(2, h.handle.clone(), 0, b"hello".to_vec()).await.unwrap();
        sftp.close(3, h.handle).await.unwrap();
        let h =
            sftp.open(4, "f.txt".into(), OpenFlags::READ, FileAttributes::empty()).await.unwrap();
        let data = sftp.read(5, h.handle.clone(), 0, 100).await.unwrap();
        assert_eq!(data.data, b"hello");
        let eof = sftp.read(6, h.handle, 5, 100).await.unwrap_err();
        assert_eq!(eof.status_code, StatusCode::Eof);
    }
}
