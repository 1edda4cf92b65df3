//! The home folder layout (`~/.llm-gateway`, or `LLM_GATEWAY_HOME`, or `--home`), created
//! owner-only.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::env;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `--home`, else `LLM_GATEWAY_HOME`, else `~/.llm-gateway`.
    pub fn resolve(flag: Option<&Path>) -> io::Result<Home> {
        if let Some(p) = flag {
            return Ok(Home::at(p));
        }
        if let Some(p) = std::env::var_os(env::HOME).filter(|p| !p.is_empty()) {
            return Ok(Home::at(Path::new(&p)));
        }
        let base = directories::BaseDirs::new().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "cannot find your home directory; pass --home DIR or set LLM_GATEWAY_HOME",
            )
        })?;
        Ok(Home::at(&base.home_dir().join(".llm-gateway")))
    }

    pub fn at(root: &Path) -> Home {
        Home {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the folder (0700) if needed and tightens it if it exists.
    pub fn ensure(&self) -> io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)?;
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn database(&self) -> PathBuf {
        self.root.join("gateway.redb")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.root.join("server.pid")
    }
    pub fn admin_socket(&self) -> PathBuf {
        self.root.join("admin.sock")
    }
    pub fn log_file(&self) -> PathBuf {
        self.root.join("gateway.log")
    }
}

/// Writes `contents` to `path` owner-only (0600), atomically (temp file + rename).
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(&dir.path().join("h"));
        home.ensure().unwrap();
        let mode = fs::metadata(home.root()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        write_private(&home.config(), b"x").unwrap();
        let mode = fs::metadata(home.config()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
