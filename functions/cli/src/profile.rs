//! Profiles: where an API is and the token for it, kept in `~/.config/berth/config.toml`
//! (`$XDG_CONFIG_HOME/berth` when set) so people need not export variables. `berth login`
//! writes one after checking the token works; the token goes to a file of its own that only
//! the user can read, and the config file names it.
//!
//! ```toml
//! current = "prod"
//! [profiles.prod]
//! url = "https://berth.example.com"
//! token_file = "/home/me/.config/berth/tokens/prod"
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client::{ApiClient, ClientError};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The profile used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub url: String,
    pub token_file: PathBuf,
}

/// The folder of the config file and the tokens.
pub fn config_dir() -> Result<PathBuf, ClientError> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(xdg) = var("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(xdg).join("berth"));
    }
    var("HOME")
        .map(|home| PathBuf::from(home).join(".config/berth"))
        .ok_or_else(|| ClientError::usage("HOME", "neither HOME nor XDG_CONFIG_HOME is set"))
}

impl Config {
    /// The config file, or an empty config when there is none.
    pub fn load(dir: &Path) -> Result<Self, ClientError> {
        let path = dir.join("config.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                ClientError::usage(
                    &path.display().to_string(),
                    format!("not a berth config file: {}", e.message()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(ClientError::Unexpected(format!("{}: {e}", path.display()))),
        }
    }

    /// The profile named, else the current one; `None` when there is no such profile and
    /// none was named.
    pub fn profile(&self, name: Option<&str>) -> Result<Option<&Profile>, ClientError> {
        match name {
            Some(name) => self.profiles.get(name).map(Some).ok_or_else(|| {
                ClientError::usage(
                    "--profile",
                    format!("no profile {name:?}: `berth login --profile {name}` makes one"),
                )
            }),
            None => Ok(self
                .current
                .as_deref()
                .and_then(|current| self.profiles.get(current))),
        }
    }

    fn save(&self, dir: &Path) -> Result<(), ClientError> {
        let text = toml::to_string(self).map_err(|e| ClientError::Unexpected(e.to_string()))?;
        write_private(&dir.join("config.toml"), &text)
    }
}

impl Profile {
    pub fn token(&self) -> Result<String, ClientError> {
        std::fs::read_to_string(&self.token_file)
            .map(|t| t.trim().to_owned())
            .map_err(|e| {
                ClientError::usage(
                    "token_file",
                    format!(
                        "cannot read {}: {e}; `berth login` writes it again",
                        self.token_file.display()
                    ),
                )
            })
    }
}

/// `berth login`: checks that `url` accepts the token (read from standard input, without echo
/// on a terminal), then saves the profile and makes it current.
pub async fn login(url: &str, profile: &str) -> Result<PathBuf, ClientError> {
    if !profile
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        || profile.is_empty()
    {
        return Err(ClientError::usage(
            "--profile",
            "letters, digits, - and _ only",
        ));
    }
    let token = read_token()?;
    // A token the API refuses is not saved: exit 4 says so.
    ApiClient::new(url, &token)?.catalog().await?;
    let dir = config_dir()?;
    let mut config = Config::load(&dir)?;
    let token_file = dir.join("tokens").join(profile);
    write_private(&token_file, &token)?;
    config.profiles.insert(
        profile.to_owned(),
        Profile {
            url: url.trim_end_matches('/').to_owned(),
            token_file,
        },
    );
    config.current = Some(profile.to_owned());
    config.save(&dir)?;
    Ok(dir.join("config.toml"))
}

fn read_token() -> Result<String, ClientError> {
    let token = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Token: ").map_err(|e| ClientError::Unexpected(e.to_string()))?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        line
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(ClientError::usage(
            "token",
            "no token given on standard input",
        ));
    }
    Ok(token)
}

/// Writes `text` to `path` readable by the user alone (0600, in a 0700 folder): the file is
/// created with those permissions, never widened after the fact.
fn write_private(path: &Path, text: &str) -> Result<(), ClientError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let failed = |e: std::io::Error| ClientError::Unexpected(format!("{}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        builder.create(parent).map_err(failed)?;
    }
    // Written beside and renamed over, so a crash never leaves half a file.
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&temporary).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(failed)
}
