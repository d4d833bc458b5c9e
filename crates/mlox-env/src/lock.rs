//! Exclusive file locks between processes (two builds of one cached environment, two
//! fetches into one cached repository).

use std::path::PathBuf;

use crate::error::{EnvError, Result};

/// An exclusive lock on a file, held until dropped (so two runs don't build one cached
/// environment, or fetch into one cached repository, at once).
pub struct FileLock(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>);

pub async fn lock_file(path: PathBuf) -> Result<FileLock> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(EnvError::io(format!(
                "opening lock file {}",
                path.display()
            )))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map(FileLock)
            .map_err(|(_, errno)| EnvError::Io {
                context: format!("locking {}", path.display()),
                source: std::io::Error::from(errno),
            })
    })
    .await
    .map_err(|e| EnvError::Environment(format!("lock task failed: {e}")))?
}
