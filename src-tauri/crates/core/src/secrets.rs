//! API keys and other secrets. They live in the OS keyring where one answers
//! (Secret Service on Linux), otherwise in a file readable only by the user
//! (`<data>/secrets/<name>`, mode 0600 in a 0700 folder) — never in SQLite,
//! never in logs. The database stores only the secret's name (`api_key_ref`).

use std::path::{Path, PathBuf};

use crate::error::{CoreError, Result};

const SERVICE: &str = "app.ensemble.desktop";
/// Set to `1` to skip the keyring (tests, headless machines).
pub const NO_KEYRING_ENV: &str = "ENSEMBLE_NO_KEYRING";

/// Where a secret ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SecretLocation {
    Keyring,
    File,
}

#[derive(Debug, Clone)]
pub struct SecretStore {
    dir: PathBuf,
    use_keyring: bool,
}

fn valid_name(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(name)
    } else {
        Err(CoreError::validation(
            "api_key_ref",
            "a secret name may contain only letters, digits, '_', '-' and '.'",
        ))
    }
}

/// Runs a keyring call on its own thread: the Secret Service client blocks on
/// an async runtime and must not run on one of ours.
fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    std::thread::spawn(f).join().ok()
}

impl SecretStore {
    pub fn new(data_dir: &Path) -> Self {
        let use_keyring = std::env::var(NO_KEYRING_ENV)
            .map(|v| v != "1")
            .unwrap_or(true);
        Self {
            dir: data_dir.join("secrets"),
            use_keyring,
        }
    }

    /// A store that never touches the OS keyring.
    pub fn file_only(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("secrets"),
            use_keyring: false,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Stores a secret; returns where it went.
    pub fn set(&self, name: &str, secret: &str) -> Result<SecretLocation> {
        let name = valid_name(name)?.to_string();
        if secret.is_empty() {
            return Err(CoreError::validation("api_key", "the key is empty"));
        }
        if self.use_keyring {
            let (n, s) = (name.clone(), secret.to_string());
            let stored = on_thread(move || {
                keyring::Entry::new(SERVICE, &n)
                    .and_then(|e| e.set_password(&s))
                    .is_ok()
            });
            if stored == Some(true) {
                // A stale file copy must not shadow the keyring.
                let _ = std::fs::remove_file(self.file(&name));
                return Ok(SecretLocation::Keyring);
            }
            tracing::info!(secret = %name, "no keyring answered; keeping the secret in a private file");
        }
        self.write_file(&name, secret)?;
        Ok(SecretLocation::File)
    }

    fn write_file(&self, name: &str, secret: &str) -> Result<()> {
        use std::io::Write;
        create_private_dir(&self.dir)?;
        let path = self.file(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .map_err(|e| CoreError::io(format!("cannot write {}", tmp.display()), e))?;
        f.write_all(secret.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| CoreError::io(format!("cannot write {}", tmp.display()), e))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| CoreError::io(format!("cannot write {}", path.display()), e))
    }

    /// Reads a secret: the keyring first, then the private file.
    pub fn get(&self, name: &str) -> Result<Option<String>> {
        let name = valid_name(name)?.to_string();
        if self.use_keyring {
            let n = name.clone();
            if let Some(Ok(s)) =
                on_thread(move || keyring::Entry::new(SERVICE, &n).and_then(|e| e.get_password()))
            {
                return Ok(Some(s));
            }
        }
        match std::fs::read_to_string(self.file(&name)) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CoreError::io(format!("cannot read the secret '{name}'"), e)),
        }
    }

    pub fn delete(&self, name: &str) -> Result<()> {
        let name = valid_name(name)?.to_string();
        if self.use_keyring {
            let n = name.clone();
            let _ = on_thread(move || {
                keyring::Entry::new(SERVICE, &n).and_then(|e| e.delete_credential())
            });
        }
        match std::fs::remove_file(self.file(&name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CoreError::io(
                format!("cannot remove the secret '{name}'"),
                e,
            )),
        }
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CoreError::io(format!("cannot create {}", dir.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| CoreError::io(format!("cannot protect {}", dir.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_secrets_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = SecretStore::file_only(dir.path());
        assert_eq!(s.get("openai").unwrap(), None);
        assert_eq!(
            s.set("openai", "sk-test-123").unwrap(),
            SecretLocation::File
        );
        assert_eq!(s.get("openai").unwrap().as_deref(), Some("sk-test-123"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets/openai"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            let dmode = std::fs::metadata(dir.path().join("secrets"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        s.delete("openai").unwrap();
        assert_eq!(s.get("openai").unwrap(), None);
        assert!(s.set("../etc/passwd", "x").is_err());
        assert!(s.set("ok", "").is_err());
    }
}
