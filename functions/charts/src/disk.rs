//! Archives kept on disk by digest (`/tmp` on Lambda, which outlives one invocation), within a
//! byte cap: the oldest files go first. A file read back is checked against its digest by the
//! caller, so a damaged or altered one is simply read again from the repository.

use std::path::PathBuf;

pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl DiskCache {
    pub fn new(dir: PathBuf, max_bytes: u64) -> Self {
        Self { dir, max_bytes }
    }

    /// The file for a digest: its hex only, so no path is built from anything but `[0-9a-f]`.
    fn path(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.dir.join(format!("{hex}.tgz")))
    }

    pub async fn read(&self, digest: &str) -> Option<Vec<u8>> {
        tokio::fs::read(self.path(digest)?).await.ok()
    }

    /// Keeps `bytes`; a failure only costs a later download, so it is logged, not returned.
    pub async fn write(&self, digest: &str, bytes: &[u8]) {
        let Some(path) = self.path(digest) else {
            return;
        };
        if bytes.len() as u64 > self.max_bytes {
            return;
        }
        if let Err(e) = self.make_room(bytes.len() as u64).await {
            tracing::warn!(error = %e, "could not trim the chart cache");
        }
        // Written aside, then renamed: a reader never sees half a file.
        let partial = path.with_extension("partial");
        let written = async {
            tokio::fs::create_dir_all(&self.dir).await?;
            tokio::fs::write(&partial, bytes).await?;
            tokio::fs::rename(&partial, &path).await
        };
        if let Err(e) = written.await {
            tracing::warn!(error = %e, "could not keep a chart archive on disk");
        }
    }

    /// Removes the oldest archives until `incoming` more bytes fit under the cap.
    async fn make_room(&self, incoming: u64) -> std::io::Result<()> {
        let mut files = Vec::new();
        let mut dir = match tokio::fs::read_dir(&self.dir).await {
            Ok(dir) => dir,
            Err(_) => return Ok(()),
        };
        while let Some(entry) = dir.next_entry().await? {
            let meta = entry.metadata().await?;
            if meta.is_file() {
                files.push((meta.modified()?, meta.len(), entry.path()));
            }
        }
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        files.sort();
        for (_, len, path) in files {
            if total + incoming <= self.max_bytes {
                break;
            }
            tokio::fs::remove_file(&path).await?;
            total -= len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_archives_by_digest_within_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path().to_path_buf(), 10);
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        cache.write(&a, b"123456").await;
        assert_eq!(cache.read(&a).await.unwrap(), b"123456");
        cache.write(&b, b"7890123").await;
        assert!(
            cache.read(&a).await.is_none(),
            "the oldest goes to make room"
        );
        assert!(cache.read(&b).await.is_some());
        assert!(cache.read("sha256:../../etc/passwd").await.is_none());
    }
}
